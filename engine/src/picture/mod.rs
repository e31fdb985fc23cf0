//! Pictures, as self-contained SVG: the KB as a heat map (`heatmap`), and a
//! diagnosis's story as a chart of the top causes after each step
//! (`chart`); `svg` holds the writing helpers. The focused and full graphs
//! of the KB are text for Graphviz or Mermaid (`kb::graph`).

pub mod chart;
pub mod heatmap;
pub mod svg;
