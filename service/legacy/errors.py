"""The one way an import stops before it has done anything."""


class CannotRun(Exception):
    """The import cannot run at all (exit status 2): the source does not answer, a table or a
    required column is missing, a file given on the command line is malformed. The message names
    what is wrong; nothing has been written."""
