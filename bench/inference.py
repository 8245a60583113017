"""Benchmark of the fix models against the classical tools: prints one table per case, then the
issue's targets, met or missed. Real footage first (../shared/footage/schoolgirls next to the
repository when present, or --footage DIR): removal with holes whose truth is known and mask
tracking against the footage's own masks; then the synthetic cases.

    python bench/inference.py            # footage, then 12 frames per case at 432x240 and 1280x720
    python bench/inference.py --cases none --footage-frames 80   # the real-footage tables only
    python bench/inference.py --long     # 24 frames per case
    python bench/inference.py --sizes 432x240 --cases removal,colour
    python bench/inference.py --clip shot.mov --masks holes/ --cases none
    python bench/inference.py --cases none --cross-shot shot.mov   # cross-shot colour, exposure, QC calibration

Every option of python -m inference.evaluate applies. Frames per second are after fitting, on
the CPU, and on CUDA in their own column when a GPU is present.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from inference.evaluate import main  # noqa: E402

if __name__ == "__main__":
    main()
