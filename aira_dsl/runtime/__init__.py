"""The runtime: executes a plan (search policy + operators + sandbox + grading) into a run."""
