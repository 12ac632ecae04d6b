"""The canvas: a QGraphicsView over one document scene, with its mask tools."""
