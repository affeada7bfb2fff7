"""Every test builder, one module per domain: users (personas' roles), datasets (plain rows), images (image
files), annotations (datasets ready for annotation), review (disputed and flagged images), prediction_sets (the
tiny evaluation world and prediction files), releases (a voted dataset and built releases). Complex state is
built through the real services. REPO and the data folders are here too."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGENET_DATA = REPO / "data" / "imagenet"
REAL_DATA = REPO / "data" / "real"
PREDICTIONS_DATA = REPO / "data" / "predictions"
IMAGENETV2_DATA = REPO / "data" / "imagenetv2"
