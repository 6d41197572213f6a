"""`framestate import-legacy`: an existing app's projects brought into framestate, with the report of
which of their stored statuses disagree with their facts, and the re-sync of the cut-over."""
