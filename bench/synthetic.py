"""Synthetic DICOM files for the benchmarks, written with pydicom (explicit VR little endian).

Three sets, all deterministic (UIDs derive from names and counters, pixel noise
from a fixed seed, so a file never compresses to nothing):

- write_ct_study:      512×512 16-bit MONOCHROME2 CT slices, one study, a few series;
- write_small_studies: 64×64 8-bit secondary captures, 30 per study, one patient per study;
- write_tiny_studies:  one tiny instance per study, varied PatientName/StudyDate/Modality.

Each function returns the list of paths it wrote.
"""

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
SEED = 20240501
SMALL_PER_STUDY = 30

FAMILY_NAMES = (
    "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "MARTIN",
    "LEFEBVRE", "MULLER", "SCHMIDT", "ROSSI", "GOLDSMITH", "NGUYEN", "KOWALSKI", "SMITHERS",
    "TANAKA", "SILVA", "DUBOIS",
)  # fmt: skip
GIVEN_NAMES = ("JOHN", "MARY", "ANNA", "PETER", "LUCIA", "AHMED", "YUKI", "OLGA", "PAUL", "SARA")
MODALITIES = ("CT", "MR", "US", "CR", "DX", "MG", "NM", "PT", "XA", "OT")


def uid(*parts):
    """A stable UID under pydicom's root, derived from the given names."""
    return generate_uid(entropy_srcs=["pharos-bench", *map(str, parts)])


def _save(ds, path):
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _dataset(**tags):
    ds = Dataset()
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


# --- CT -------------------------------------------------------------------------------


def _ct_phantom(size):
    """Stored values (HU + 1024) of a body ellipse with a spine and two lungs."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    image = np.zeros((size, size), np.float32)  # air: -1024 HU
    image[(x / 0.42) ** 2 + (y / 0.32) ** 2 < 1] = 1024 + 40  # soft tissue
    for cx in (-0.17, 0.17):
        image[((x - cx) / 0.13) ** 2 + ((y + 0.02) / 0.2) ** 2 < 1] = 1024 - 800  # lung
    image[(x / 0.05) ** 2 + ((y - 0.22) / 0.05) ** 2 < 1] = 1024 + 700  # vertebra
    return image


CT_SERIES = (
    # SeriesNumber, SeriesDescription, SliceThickness, ConvolutionKernel
    (2, "AXIAL 1.25mm STANDARD", 1.25, "STANDARD"),
    (3, "AXIAL 1.25mm LUNG", 1.25, "LUNG"),
    (4, "AXIAL 2.5mm SOFT", 2.5, "SOFT"),
)


def _ct_common(study_uid):
    return dict(
        SpecificCharacterSet="ISO_IR 100",
        PatientName="BENCH^CT^PATIENT",
        PatientID="BENCH-CT-0001",
        PatientBirthDate="19640312",
        PatientSex="F",
        PatientAge="060Y",
        StudyInstanceUID=study_uid,
        StudyDate="20240315",
        StudyTime="101500",
        StudyID="4711",
        AccessionNumber="ACC-CT-0001",
        StudyDescription="CT THORAX WITH CONTRAST",
        ReferringPhysicianName="WHO^REFERRED",
        InstitutionName="PHAROS BENCH HOSPITAL",
        Modality="CT",
        Manufacturer="BENCH MEDICAL",
        ManufacturerModelName="SYNTH 64",
        StationName="CT01",
        BodyPartExamined="CHEST",
        ProtocolName="THORAX ROUTINE",
        PatientPosition="HFS",
        FrameOfReferenceUID=uid("ct-frame"),
        KVP="120",
        ImageType=["ORIGINAL", "PRIMARY", "AXIAL"],
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        Rows=512,
        Columns=512,
        PixelSpacing=[0.78125, 0.78125],
        BitsAllocated=16,
        BitsStored=12,
        HighBit=11,
        PixelRepresentation=0,
        RescaleIntercept="-1024",
        RescaleSlope="1",
        RescaleType="HU",
        WindowCenter="40",
        WindowWidth="400",
        ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
    )


def write_ct_study(folder, count):
    """`count` CT slices of one study, split over the CT_SERIES."""
    rng = np.random.default_rng(SEED)
    phantom = _ct_phantom(512)
    study_uid = uid("ct-study")
    common = _ct_common(study_uid)
    per_series = -(-count // len(CT_SERIES))
    paths = []
    for i in range(count):
        series_index, k = divmod(i, per_series)
        number, description, thickness, kernel = CT_SERIES[series_index]
        z = -k * thickness
        ds = _dataset(
            **common,
            SOPClassUID=CT_IMAGE_STORAGE,
            SOPInstanceUID=uid("ct-instance", i),
            SeriesInstanceUID=uid("ct-series", number),
            SeriesNumber=number,
            SeriesDescription=description,
            SeriesDate="20240315",
            SeriesTime=f"1016{series_index:02d}",
            ConvolutionKernel=kernel,
            SliceThickness=thickness,
            ImagesInAcquisition=min(per_series, count - series_index * per_series),
            AcquisitionNumber=1,
            InstanceNumber=k + 1,
            ContentDate="20240315",
            ContentTime=f"1016{series_index:02d}.{k:06d}",
            ImagePositionPatient=[-200.0, -200.0, z],
            SliceLocation=z,
        )
        noisy = phantom + rng.normal(0.0, 25.0, phantom.shape)
        ds.add_new(0x7FE00010, "OW", np.clip(noisy, 0, 4095).astype("<u2").tobytes())
        paths.append(_save(ds, Path(folder) / f"series{number}" / f"{k + 1:04d}.dcm"))
    return paths


# --- small secondary captures -------------------------------------------------------------


def _secondary_capture(pixels, **tags):
    rows, columns = pixels.shape
    ds = _dataset(
        SpecificCharacterSet="ISO_IR 100",
        SOPClassUID=SECONDARY_CAPTURE,
        ConversionType="WSD",
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        Rows=rows,
        Columns=columns,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
        **tags,
    )
    ds.add_new(0x7FE00010, "OB", pixels.astype(np.uint8).tobytes())
    return ds


def _patient_name(n):
    return f"{FAMILY_NAMES[n % len(FAMILY_NAMES)]}^{GIVEN_NAMES[(n // len(FAMILY_NAMES)) % len(GIVEN_NAMES)]}"


def write_small_studies(folder, count):
    """`count` 64×64 secondary captures, 30 per study (two series of 15), one patient per study."""
    rng = np.random.default_rng(SEED + 1)
    paths = []
    for i in range(count):
        study, k = divmod(i, SMALL_PER_STUDY)
        series = k // (SMALL_PER_STUDY // 2)
        ds = _secondary_capture(
            rng.integers(0, 256, (64, 64)),
            PatientName=_patient_name(study),
            PatientID=f"BENCH-SC-{study:05d}",
            PatientBirthDate=f"19{50 + study % 50:02d}0101",
            PatientSex="MF"[study % 2],
            StudyInstanceUID=uid("sc-study", study),
            StudyDate=f"2023{1 + study % 12:02d}{1 + study % 28:02d}",
            StudyTime="090000",
            StudyID=str(study),
            AccessionNumber=f"ACC-SC-{study:05d}",
            StudyDescription="SCREEN CAPTURES",
            SeriesInstanceUID=uid("sc-series", study, series),
            SeriesNumber=series + 1,
            Modality="OT",
            SOPInstanceUID=uid("sc-instance", i),
            InstanceNumber=k % (SMALL_PER_STUDY // 2) + 1,
        )
        paths.append(_save(ds, Path(folder) / f"study{study:05d}" / f"{k + 1:03d}.dcm"))
    return paths


# --- tiny, one per study ------------------------------------------------------------------


def write_tiny_studies(folder, count):
    """`count` studies of one 8×8 instance each; two studies per patient; dates over 2015–2024."""
    rng = np.random.default_rng(SEED + 2)
    paths = []
    for i in range(count):
        patient = i // 2
        date = np.datetime64("2015-01-01") + int(rng.integers(0, 3653))
        modality = MODALITIES[int(rng.integers(0, len(MODALITIES)))]
        ds = _secondary_capture(
            rng.integers(0, 256, (8, 8)),
            PatientName=_patient_name(patient),
            PatientID=f"BENCH-Q-{patient:06d}",
            PatientBirthDate=f"19{40 + patient % 60:02d}0615",
            PatientSex="MF"[patient % 2],
            StudyInstanceUID=uid("q-study", i),
            StudyDate=str(date).replace("-", ""),
            StudyTime=f"{8 + i % 10:02d}3000",
            StudyID=str(i),
            AccessionNumber=f"ACC-Q-{i:06d}",
            StudyDescription=f"{modality} EXAMINATION",
            SeriesInstanceUID=uid("q-series", i),
            SeriesNumber=1,
            Modality=modality,
            SOPInstanceUID=uid("q-instance", i),
            InstanceNumber=1,
        )
        paths.append(_save(ds, Path(folder) / f"{i // 1000:02d}" / f"{i:06d}.dcm"))
    return paths
