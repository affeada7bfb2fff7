"""The demo's data, one module per dataset: the demo photographs and ImageNet val with ReaL's raters."""
