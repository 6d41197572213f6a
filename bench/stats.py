"""Figures of a run's measurements."""


def percentile(values: list[float], q: float) -> float:
    """The `q`th percentile (nearest rank); NaN of no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
