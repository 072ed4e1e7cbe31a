"""Drawing styles: a layer graph -> DOT or SVG."""
