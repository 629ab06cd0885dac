"""The data: single image files (``images``), where the study's images come from
(``sources``), image folders and their labels (``folders``), DICOM series and NIfTI volumes
in a folder (``volumes``) and how they are windowed (``windows``), splits (``splits``), the
cached loader (``loader``) and its on-disk shards (``shards``), and made-up patients' DICOM
series for trying the scan path (``examples``). Imports the method and the core."""
