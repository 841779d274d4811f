# leafvcu: the controller that stands in for a Nissan Leaf VCM (see ../shared/DESIGN.md).
VERSION = "0.1.0"
