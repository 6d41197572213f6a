"""HTTP preconditions on a project: its version as an entity tag, and `If-Match` against it."""


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_holds(header: str, version: int) -> bool:
    """RFC 9110 If-Match against the project's current version (`*`, or a list of entity tags)."""
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag(version) in tags
