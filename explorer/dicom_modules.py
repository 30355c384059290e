"""The DICOM module of each level, as Orthanc answers GET /{level}/{id}/module: the tags of
the Patient, General Study, General Series and SOP Common modules (PS3.3), in the list
Orthanc's DicomTag::AddTagsForModule keeps, taken from one instance of the resource."""

from explorer import levels

MODULE_TAGS = {
    levels.PATIENT: [
        0x00100010, 0x00100020, 0x00100030, 0x00100040, 0x00081120, 0x00100032, 0x00101000, 0x00101002,
        0x00101001, 0x00102160, 0x00104000, 0x00102201, 0x00102203, 0x00102292, 0x00102293, 0x00102294,
        0x00102297, 0x00102298, 0x00102299, 0x00120062, 0x00120063, 0x00120064,
    ],
    levels.STUDY: [
        0x0020000D, 0x00080020, 0x00080030, 0x00080090, 0x00080096, 0x00200010, 0x00080050, 0x00080051,
        0x00081030, 0x00081048, 0x00081049, 0x00081060, 0x00081062, 0x00321034, 0x00081110, 0x00081032,
        0x00401012,
    ],
    levels.SERIES: [
        0x00080060, 0x0020000E, 0x00200011, 0x00200060, 0x00080021, 0x00080031, 0x00081050, 0x00081052,
        0x00181030, 0x0008103E, 0x0008103F, 0x00081070, 0x00081072, 0x00081111, 0x00081250, 0x00180015,
        0x00185100, 0x00280108, 0x00280109, 0x00400275, 0x00400253, 0x00400244, 0x00400245, 0x00400254,
        0x00400260, 0x00400280, 0x00102210,
    ],
    levels.INSTANCE: [
        0x00080016, 0x00080018, 0x00080005, 0x00080012, 0x00080013, 0x00080014, 0x0008001A, 0x0008001B,
        0x00080110, 0x00080201, 0x0018A001, 0x00200013, 0x01000410, 0x01000420, 0x01000424, 0x01000426,
        0x4FFE0001, 0xFFFAFFFA, 0x04000500, 0x04000561, 0x0040A390,
    ],
}
_KEYS = {level: {f"{tag:08X}" for tag in tags} for level, tags in MODULE_TAGS.items()}


def module_elements(dataset_json, module_level):
    """The elements of `module_level`'s module in an instance's data set (DICOM JSON)."""
    keys = _KEYS[module_level]
    return {key: element for key, element in dataset_json.items() if key.upper() in keys}
