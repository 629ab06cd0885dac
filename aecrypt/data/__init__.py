"""The data: single image files (``images``), where the study's images come from
(``sources``), image folders and their labels (``folders``), splits (``splits``), the
cached loader (``loader``) and its on-disk shards (``shards``). Imports the method and the core."""
