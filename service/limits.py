"""What one caller can make the service hold: every bound of the API, in one place.

The README's "Security" section lists them; a setting that moves one is named beside it there.
"""

MAX_BODY_BYTES = 1024 * 1024
"""A request body past this is 413 before it is read further."""

MAX_CROP_DATA_DEPTH = 32
MAX_JSON_DEPTH = MAX_CROP_DATA_DEPTH + 1
"""A body is an object (one level) whose `crop_data` may nest this deep."""
MAX_CROP_DATA_BYTES = 64 * 1024
"""`crop_data` as compact JSON text (UTF-8): a framing's keyframes fit many times over."""

MAX_CLIPS_PER_PROJECT = 1000
MAX_WEBHOOKS_PER_OWNER = 100
"""With auth off every webhook has the one owner nobody."""

PROJECT_PAGE_DEFAULT = 50
PROJECT_PAGE_MAX = 200
"""`GET /v1/projects` and a webhook's deliveries: pages of cards or attempts."""
LIST_PAGE_DEFAULT = LIST_PAGE_MAX = 1000
"""A project's history, clips and exports: whole lists for nearly every project, pages past that."""

WEBHOOK_SLOTS = 128
"""Webhook attempts one process makes at once (each holds a connection to its receiver)."""
RESERVED_FILES = 64
"""Open files a process keeps for itself beyond its client connections, database connections and
webhook attempts: the log, SQLite's files, the event loop, the metrics of several workers."""
