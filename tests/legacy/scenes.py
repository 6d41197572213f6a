"""The old app's projects the import's tests start from, with what the contract says of each, written
out by hand: the status its facts give, and whether the stored status agrees."""

from tests.legacy_db import Legacy

CROP = '{"keyframes": [{"t": 0, "x": 0.4}]}'

EXPECTED = {
    # id: (legacy status, the status its facts give, agrees)
    "1": ("complete", "exporting_framing", False),
    "2": ("Complete", "complete", True),
    "3": ("In-Progress", "in_progress", True),
    "4": ("framed", "exporting_overlay", False),
    "5": ("draft", "not_started", True),
    "6": ("archived", "in_progress", False),
    "7": (None, "not_started", False),
}
SUMMARY_DISAGREEMENTS = [
    "  archived → in_progress: 1",
    "  complete → exporting_framing: 1",
    "  framed → exporting_overlay: 1",
    "  null → not_started: 1",
]


def cut_over_app() -> Legacy:
    """Seven projects whose stored status lies in four ways, with running exports among them."""
    legacy = Legacy()
    # Re-framed after it was complete: the old app still says complete while framing runs.
    legacy.project(1, "complete", name="Holiday reel", working=10, final=11)
    legacy.video(10, 1, 2)
    legacy.video(11, 1, 1)
    legacy.clip(100, 1, CROP)
    legacy.clip(101, 1, None)
    legacy.job(500, 1, "framing", "Running", progress=40)
    legacy.job(490, 1, "framing", "done", created_at="2024-03-02 09:00:00")
    # Complete, and says so (in another case).
    legacy.project(2, "Complete", name="Wedding", working=12, final=13)
    legacy.video(12, 2, 1)
    legacy.video(13, 2, 1)
    legacy.clip(102, 2, CROP)
    # Framed clips and nothing more.
    legacy.project(3, "In-Progress", name="Skate park")
    legacy.clip(103, 3, CROP)
    # An overlay export waits in the queue, the card says framed.
    legacy.project(4, "framed", working=14)
    legacy.video(14, 4, 5)
    legacy.clip(104, 4, CROP)
    legacy.job(501, 4, "overlay", "pending")
    # Nothing yet.
    legacy.project(5, "draft", name="Empty")
    # A status the map does not know.
    legacy.project(6, "archived", name="Old")
    legacy.clip(105, 6, CROP)
    # No status, and clips that are not framed: empty text and JSON null.
    legacy.project(7, None, name="Unframed")
    legacy.clip(106, 7, "")
    legacy.clip(107, 7, "null")
    return legacy
