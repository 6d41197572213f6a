"""framestate's I/O: settings, tables, the unit of work, the HTTP API and the command line."""
