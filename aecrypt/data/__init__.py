"""The data: reading and writing images, the embedded and other people's scans, folders and
labels, splits, the cached loader and its on-disk shards. Imports the method and the core."""
