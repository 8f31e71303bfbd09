"""Reading frames, writing masks and images, dataset layouts."""

from bgsub.io.frames import Chunk, frame_number, iter_chunks, iter_frames, list_frames, probe, read_clip
from bgsub.io.masks import mask_name, write_image, write_mask

__all__ = [
    "Chunk",
    "frame_number",
    "iter_chunks",
    "iter_frames",
    "list_frames",
    "probe",
    "read_clip",
    "mask_name",
    "write_image",
    "write_mask",
]
