"""A failed build's log is printed under the error without the lines progress already showed."""

from __future__ import annotations

from rhcos_layer.cli.build import _not_shown

LOG = ["STEP 1/3: FROM base@sha256:" + "a" * 64, "STEP 2/3: RUN make", "make: *** no rule", "exit status 2"]
DETAIL = "\n".join(LOG[:3]) + "\nreal error context"


def test_default_output_drops_the_step_lines_already_printed() -> None:
    assert _not_shown(DETAIL, LOG, verbosity=0, quiet=False) == "make: *** no rule\nreal error context"


def test_verbose_output_drops_every_line_already_printed() -> None:
    assert _not_shown(DETAIL, LOG, verbosity=1, quiet=False) == "real error context"


def test_quiet_output_printed_nothing_so_keeps_the_whole_log() -> None:
    assert _not_shown(DETAIL, LOG, verbosity=0, quiet=True) == DETAIL


def test_a_line_repeated_in_the_log_is_dropped_as_often_as_it_was_shown() -> None:
    logged = ["STEP 2/3: RUN make"]
    assert _not_shown("STEP 2/3: RUN make\nSTEP 2/3: RUN make", logged, 0, False) == "STEP 2/3: RUN make"
