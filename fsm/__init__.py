"""The pure domain of framestate: statuses, facts, actions, guards and the transition table.

Nothing in this package does I/O or imports a web framework or a database library.
"""
