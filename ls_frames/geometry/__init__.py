"""Region geometry in image pixels: Label Studio's percent coordinates turned into boxes,
overlaps, masks, COCO segmentations and video tracks.

:mod:`~ls_frames.geometry.shapes` (percent to pixels, enclosing boxes, COCO / YOLO boxes),
:mod:`~ls_frames.geometry.overlap` (intersection over union, rotation aware),
:mod:`~ls_frames.geometry.brush` (Label Studio's brush RLE),
:mod:`~ls_frames.geometry.masks` (one mask per region),
:mod:`~ls_frames.geometry.coco` (COCO segmentations),
:mod:`~ls_frames.geometry.tracks` (video keyframes frame by frame).
"""
