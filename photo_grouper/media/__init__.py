"""Photos on disk: walking folders, decoding (EXIF orientation, fast downscaled JPEG), hashing."""

from .images import IMAGE_EXTENSIONS, ImageError, ImageInfo, content_hash, is_image_path, load_upright, read_info
from .scan import ScanError, ScanReport, check_folder, scan_folder, under

__all__ = [
    "IMAGE_EXTENSIONS", "ImageError", "ImageInfo", "ScanError", "ScanReport", "check_folder", "content_hash",
    "is_image_path", "load_upright", "read_info", "scan_folder", "under",
]
