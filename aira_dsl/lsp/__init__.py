"""``aira-dsl lsp``: the checks of ``aira-dsl validate`` (and hover, completion, definitions) in an editor.

The package is split by job so that the checking engine can be used and measured without the
LSP library:

- :mod:`.analysis` checks open documents on their unsaved text, caches results by content and
  knows which documents an edit can affect (no pygls import);
- :mod:`.yamlcursor`, :mod:`.jinjacursor` and :mod:`.schemadoc` find what the cursor is on
  (a spec path, a template expression) and what the schemas say about it (no pygls import);
- :mod:`.targets` says what a spec path means (an expression field, an operator's prompt) and
  which operator kinds use a template;
- :mod:`.convert`, :mod:`.hover`, :mod:`.completion`, :mod:`.definition` build the LSP answers;
- :mod:`.server` wires them into a pygls server over stdio.

pygls is an optional dependency (``pip install 'aira-dsl[lsp]'``); only the last group needs it.
"""
