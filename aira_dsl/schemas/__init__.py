"""JSON Schemas shipped with the package (copies of the files in the repository's ``schema/``)."""
