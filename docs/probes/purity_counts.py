"""The counts the README's "Coarser levels against a same-count cut of the average-linkage tree" quotes, read from
the `bench --json` files of the default on faces kept in docs/ (pairwise precision and Fp compared to three
decimals, as `bench` prints them).

    .venv/bin/python docs/probes/purity_counts.py              # the README's split and seeds 0, 1, 23-41
    .venv/bin/python docs/probes/purity_counts.py FILE.json ...
"""

import json
import sys
from collections import Counter
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
# One file per partition with the default's rows; seed 32 has only its forced-clashes run (same default rows).
DEFAULT = ([DOCS / "bench-faces.json", DOCS / "bench-faces-folds.json", DOCS / "bench-faces-folds-seed1.json"]
           + [DOCS / f"bench-faces-folds-seed{s}.json" for s in range(23, 42) if s != 32]
           + [DOCS / "bench-faces-folds-seed32-forced-clashes.json"])


def side(a: float, b: float) -> str:
    a, b = round(a, 3), round(b, 3)
    return "hi-lander" if a > b else "level" if a == b else "cut"


def main(files) -> None:
    level0, above, last_fp, level0_fp = Counter(), Counter(), Counter(), Counter()
    within = steady = folds = 0
    worst = (0.0, "")
    for path in files:
        checks = json.loads(Path(path).read_text())["purity_vs_average_linkage"]
        by_fold: dict[int, list] = {}
        for c in checks:
            if not c.get("zoom_out"):
                by_fold.setdefault(c.get("fold", 1), []).append(c)
        for fold, levels in by_fold.items():
            folds += 1
            first, last = min(levels, key=lambda c: c["level"]), max(levels, key=lambda c: c["level"])
            for c in levels:
                (level0 if c["level"] == 0 else above)[side(c["hi_lander_precision"],
                                                            c["average_linkage_precision"])] += 1
            last_fp[side(last["hi_lander_fp"], last["average_linkage_fp"])] += 1
            level0_fp[side(first["hi_lander_fp"], first["average_linkage_fp"])] += 1
            within += first["hi_lander_precision"] - last["hi_lander_precision"] <= 0.005
            steady += round(last["hi_lander_precision"], 3) >= round(first["hi_lander_precision"], 3)
            loss = first["average_linkage_precision"] - last["average_linkage_precision"]
            worst = max(worst, (loss, f"{Path(path).name} fold {fold}"))
    print(f"{folds} folds")
    print(f"precision, level 0: {dict(level0)}; levels above 0: {dict(above)}")
    print(f"Fp at the last level (the one the app shows): {dict(last_fp)}; at level 0: {dict(level0_fp)}")
    print(f"Hi-LANDER's last level within 0.005 of its level 0's precision: {within}; equal or higher: {steady}")
    print(f"the cut's largest loss of precision from level 0's count to the last's: {worst[0]:.3f} ({worst[1]})")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
