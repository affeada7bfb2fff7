"""`make bench`: ReLabel's benchmark at ImageNet-val scale, each figure beside its floor."""
