"""The study reads folders of DICOM series and NIfTI volumes: grouped by series and patient,
windowed as a viewer shows them, split by whole patients (never by slice), cached on all of it."""

import json

import numpy as np
import pytest
from conftest import SCAN_PATIENTS as PATIENTS
from pydicom import dcmread
from pydicom.dataset import Dataset

from aecrypt.data.examples import write_dicom_series
from aecrypt.data.folders import SkippedImagesWarning, list_folder
from aecrypt.data.loader import load_dataset
from aecrypt.data.splits import ROLES, patient_roles, random_roles
from aecrypt.data.volumes import read_volume
from aecrypt.data.windows import FILE_WINDOW, PERCENTILE_WINDOW, WINDOW_SAMPLE, dicom_window, percentile_window, window_sample
from aecrypt.errors import DatasetError, ImageReadError
from aecrypt.experiments.leakage import describe_patient_split, leakage_per_image, patients_by_role

def test_files_are_grouped_by_series_and_patient(scan_folder):
    root = scan_folder
    contents = list_folder(root, axis=2)
    assert [(v.kind, v.label, v.slices, len(v.files)) for v in contents.volumes] == [
        ("dicom", "CT", 5, 5), ("dicom", "CT", 4, 4), ("dicom", "MR", 6, 6), ("dicom", "MR", 10, 1)]
    patients = [v.patient for v in contents.volumes]
    assert patients[0] == patients[1] and len(set(patients)) == 3  # two series, one patient
    assert contents.count == 25 and not contents.images
    instances = [int(dcmread(path).InstanceNumber) for path in contents.volumes[0].files]
    assert instances == sorted(instances)


def test_the_window_is_the_files_own_else_a_percentile_window():
    dataset = Dataset()
    dataset.WindowCenter, dataset.WindowWidth = [40, 80], [400, 2000]  # several: the first, as a viewer shows
    window = dicom_window(dataset)
    assert (window.low, window.high, window.source) == (-160.0, 239.0, FILE_WINDOW)  # PS3.3 C.11.2.1.2
    assert window.show(np.array([-500.0, -160.0, 39.5, 239.0, 900.0])).tolist() == pytest.approx([0, 0, 0.5, 1, 1])
    dataset.WindowWidth = 0  # invalid: no window of its own
    assert dicom_window(dataset) is None and dicom_window(Dataset()) is None
    values = np.arange(10_001, dtype=np.float64)
    fallback = percentile_window(values)
    assert (fallback.low, fallback.high, fallback.source) == (50.0, 9950.0, PERCENTILE_WINDOW)
    assert window_sample(np.zeros(4 * WINDOW_SAMPLE)).size == WINDOW_SAMPLE  # bounded, however long the series
    assert window_sample(np.zeros((8, 8)), parts=2).size == 64


def test_the_window_applies_to_rescaled_values_and_monochrome1_is_inverted(tmp_path):
    ramp = np.tile(np.arange(924, 1124, 10, dtype=np.uint16), (20, 1))  # stored values; HU = stored - 1024
    paths = write_dicom_series(tmp_path / "ct", [ramp, ramp], "PAT-RAMP", "ct", template="CT_small.dcm", window=(0, 201))
    for path, photometric in zip(paths, ("MONOCHROME2", "MONOCHROME1")):
        dataset = dcmread(path)
        dataset.RescaleSlope, dataset.RescaleIntercept, dataset.PhotometricInterpretation = 1, -1024, photometric
        dataset.save_as(path)
    contents = list_folder(tmp_path, axis=2)
    record: dict = {}
    (_, plain), (_, inverted) = read_volume(contents.volumes[0], tmp_path, 2, [], True, record)
    expected = np.clip((ramp.astype(np.float64) - 1024 + 100.5) / 200, 0, 1)  # window 0/201 in HU: -100.5 to 99.5
    assert np.allclose(plain[..., 0], expected, atol=1e-6) and np.allclose(inverted[..., 0], 1 - expected, atol=1e-6)
    assert record["windows"] == [[-100.5, 99.5]] and record["window_source"] == FILE_WINDOW and record["slices"] == 2


def test_scans_are_windowed_as_a_viewer_shows_them_and_the_window_is_recorded(scan_folder):
    root = scan_folder
    split = load_dataset("folder", data_dir=root, image_size=16, channels=1)
    assert len(split.manifest["scans"]["volumes"]) == 4
    mr = next(v for v in split.manifest["scans"]["volumes"] if v["volume"].startswith("b/"))
    assert mr["window_source"] == FILE_WINDOW and mr["windows"] == [[-200.0, 1399.0]]
    ct = [v for v in split.manifest["scans"]["volumes"] if v["volume"].startswith("a/")]
    assert {v["window_source"] for v in ct} == {PERCENTILE_WINDOW}
    assert split.manifest["parameters"]["scan_window"] == split.manifest["scans"]["window_policy"]
    images = np.concatenate([split.x_train, split.x_val, split.x_test])
    assert images.min() >= 0 and images.max() <= 1 and images.std() > 0.05
    text = json.dumps(split.manifest)
    assert not any(patient in text for patient in PATIENTS)  # patients are named by a hash of their ID only


def test_no_patient_is_on_two_sides_of_the_split(scan_folder):
    root = scan_folder
    for seed in range(4):
        split = load_dataset("folder", data_dir=root, image_size=16, split_seed=seed, use_cache=False)
        sides = [set(split.patients(role)) for role in ("train", "validation", "test")]
        assert all(sides) and not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2]), seed
        assert len(split.patients("test")) == len(split.names_test)
    by_patient = patients_by_role(split)
    assert len(by_patient) == 3 and not by_patient["roles"].str.contains(",").any()
    assert by_patient[["train_images", "validation_images", "test_images"]].to_numpy().sum() == 25
    assert "no patient has images on two sides" in describe_patient_split(by_patient)
    table = leakage_per_image(split)
    assert (table["test_patient"] != table["nearest_training_patient"]).all()


def test_patient_roles_draw_whole_patients_and_leave_photographs_as_they_were(rng):
    labels = np.array(["MR"] * 12)
    groups = np.repeat(["p1", "p2", "p3", "p4"], 3)
    roles = patient_roles(labels, groups, 0.25, 0.1, np.random.default_rng(0))
    for patient in set(groups):
        assert len(set(roles[groups == patient])) == 1
    assert sorted(roles.tolist()).count("test") == 3 and "validation" in roles
    assert np.array_equal(patient_roles(labels, groups, 0.25, 0.1, np.random.default_rng(0)), roles)  # seeded
    photos = np.array([f"img{i}" for i in range(12)])  # each its own group: the random split, unchanged
    assert np.array_equal(patient_roles(labels, photos, 0.2, 0.1, np.random.default_rng(3)),
                          random_roles(labels, 0.2, 0.1, np.random.default_rng(3)))
    with pytest.raises(DatasetError, match="one patient"):
        patient_roles(labels, np.array(["p1"] * 12), 0.2, 0.1, rng)


def test_nifti_volumes_of_one_bids_subject_stay_together_and_the_axis_keys_the_cache(tmp_path, rng):
    import nibabel

    import aecrypt.config as config

    root = tmp_path / "bids"
    for subject, runs in (("sub-01", 2), ("sub-02", 1), ("sub-03", 1)):
        for run in range(runs):
            volume = rng.normal(100, 20, (12, 10, 6)).astype(np.int16)
            path = root / subject / "anat" / f"{subject}_run-{run}_T1w.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), path)
    axial = load_dataset("folder", data_dir=root, image_size=16, split_seed=1)
    assert len(axial.names_train) + len(axial.names_val) + len(axial.names_test) == 6 * 4
    subject_of = {v["volume"]: v["patient"] for v in axial.manifest["scans"]["volumes"]}
    first = {v for v, p in subject_of.items() if v.startswith("sub-01/")}
    assert len(first) == 2 and len({subject_of[v] for v in first}) == 1  # two runs, one patient
    sagittal = load_dataset("folder", data_dir=root, image_size=16, split_seed=1, scan_axis=0)
    assert len(sagittal.names_train) + len(sagittal.names_val) + len(sagittal.names_test) == 12 * 4
    assert len(list(config.PROCESSED_DIR.glob("*.json"))) == 2  # the axis is part of the cache's key
    assert all("#slice" in name for name in sagittal.names_test)


def test_a_scan_folder_streamed_from_shards_splits_as_in_memory(scan_folder):
    root = scan_folder
    in_memory = load_dataset("folder", data_dir=root, image_size=16, use_cache=False)
    streamed = load_dataset("folder", data_dir=root, image_size=16, memory_limit_mb=0.01)
    assert streamed.data_path == "streamed" and in_memory.data_path == "in memory"
    for role in ROLES:
        assert streamed.manifest[role] == in_memory.manifest[role]
        assert streamed.patients(role) == in_memory.patients(role)
    assert np.allclose(np.asarray(streamed.x_test), in_memory.x_test)
    assert streamed.manifest["scans"] == in_memory.manifest["scans"]


def test_an_unreadable_dicom_file_is_skipped_with_a_warning_or_stops_a_strict_load(scan_folder):
    root = scan_folder
    (root / "b" / "broken.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x02\x00garbage")
    with pytest.warns(SkippedImagesWarning, match="broken.dcm"):
        split = load_dataset("folder", data_dir=root, image_size=16, use_cache=False)
    assert not any("broken" in name for role in ROLES for name in split.manifest[role])
    with pytest.raises(ImageReadError, match="broken.dcm"):
        load_dataset("folder", data_dir=root, image_size=16, use_cache=False, strict=True)
