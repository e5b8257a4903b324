"""Region geometry in image pixels: Label Studio's percent coordinates turned into boxes,
overlaps, masks, COCO segmentations and video tracks.

Modules, lowest first (each imports only those above it):

* :mod:`~ls_frames.geometry.rotation`: the rotation maths (a rectangle about its
  top-left corner, an ellipse about its centre), pure numpy;
* :mod:`~ls_frames.geometry.pixels`: percent to pixels, rotated corners, points' boxes;
* :mod:`~ls_frames.geometry.overlap`: intersection over union of boxes (rotation aware)
  and spans;
* :mod:`~ls_frames.geometry.brush`: Label Studio's brush RLE;
* :mod:`~ls_frames.geometry.masks`: one mask per region;
* :mod:`~ls_frames.geometry.coco`: COCO segmentations (polygons, compressed RLE);
* :mod:`~ls_frames.geometry.shapes`: enclosing boxes as xyxy, COCO (with segmentations)
  and YOLO;
* :mod:`~ls_frames.geometry.tracks`: video keyframes frame by frame.

Which result types are boxes, polygons, masks or keypoints is the control registry's
(:mod:`ls_frames.reading.controls`).
"""
