"""The progress meter that long computations report through, and stop by."""

import threading

import pytest

from photo_grouper.progress import Cancelled, Meter


def test_meter_parts_map_onto_their_stretch_and_report_in_steps():
    heard = []
    meter = Meter(lambda done, total: heard.append((done, total)))
    meter(0.0)
    second = meter.part(0.5, 1.0)
    second.part(0.0, 0.5)(1.0)  # the end of the first half of the second half
    second.report(3, 4)
    meter(2.0)  # shares are clipped to 0..1
    assert heard == [(0, 1000), (750, 1000), (875, 1000), (1000, 1000)]


def test_a_set_cancel_flag_stops_the_next_report():
    flag, heard = threading.Event(), []
    meter = Meter(lambda done, total: heard.append(done), flag)
    meter.part(0.0, 0.5)(0.5)
    flag.set()
    with pytest.raises(Cancelled):
        meter.part(0.5, 1.0)(0.0)
    assert heard == [250]
