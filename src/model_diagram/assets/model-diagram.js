/* model-diagram viewer: pan and zoom for diagrams larger than the page.
 *
 * Shipped with the package (no CDN). Without scripts the static SVG shows,
 * scaled to the content width; print always shows the whole figure.
 * Controls: buttons (zoom in/out, fit width, reset, full screen), Ctrl/Cmd +
 * wheel or pinch to zoom, drag to pan, and the keyboard when the canvas has
 * focus: + / - zoom, arrow keys pan, 0 resets, f fits the width.
 * State is mirrored in data-scale / data-x / data-y on the canvas.
 */
(function () {
  "use strict";

  var MIN = 0.1;
  var MAX = 8;

  function naturalSize(svg) {
    var box = svg.viewBox && svg.viewBox.baseVal;
    if (box && box.width) {
      return { w: box.width * 4 / 3, h: box.height * 4 / 3 }; // Graphviz viewBox is in pt
    }
    var rect = svg.getBoundingClientRect();
    return { w: rect.width, h: rect.height };
  }

  // drawn, not a character: U+26F6 is missing from most fonts and shows as a box
  var FULLSCREEN_ICON =
    '<svg viewBox="0 0 16 16" width="1em" height="1em" aria-hidden="true" focusable="false" ' +
    'fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round">' +
    '<path d="M2 6V2h4M10 2h4v4M14 10v4h-4M6 14H2v-4"/></svg>';

  function button(label, title, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "model-diagram-button";
    if (label === FULLSCREEN_ICON) { b.innerHTML = label; } else { b.textContent = label; }
    b.title = title;
    b.setAttribute("aria-label", title);
    b.addEventListener("click", action);
    return b;
  }

  function Viewer(figure, canvas, svg) {
    var self = this;
    var size = naturalSize(svg);
    this.canvas = canvas;
    this.svg = svg;
    this.size = size;
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    figure.classList.add("model-diagram-zoomable");
    canvas.setAttribute("tabindex", "0");
    canvas.setAttribute("role", "group");
    canvas.setAttribute("aria-label", "Diagram viewer: drag to pan, plus and minus to zoom");
    svg.setAttribute("width", size.w);
    svg.setAttribute("height", size.h);

    var bar = document.createElement("div");
    bar.className = "model-diagram-toolbar";
    bar.appendChild(button("+", "Zoom in", function () { self.zoomBy(1.25); }));
    bar.appendChild(button("\u2212", "Zoom out", function () { self.zoomBy(0.8); }));
    bar.appendChild(button("\u2194", "Fit to width", function () { self.fit(); }));
    bar.appendChild(button("1:1", "Reset zoom", function () { self.reset(); }));
    bar.appendChild(button(FULLSCREEN_ICON, "Full screen", function () { self.fullscreen(figure); }));
    figure.insertBefore(bar, canvas);

    canvas.addEventListener("wheel", function (e) {
      if (!(e.ctrlKey || e.metaKey)) { return; } // plain wheel keeps scrolling the page
      e.preventDefault();
      var r = canvas.getBoundingClientRect();
      self.zoomAt(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });

    var pointers = {};
    var pinch = null;
    canvas.addEventListener("pointerdown", function (e) {
      // links stay clickable; every node is an <a> (for its tooltip) but few have a target
      if (e.target.closest && e.target.closest("a[href], a[*|href]")) { return; }
      pointers[e.pointerId] = { x: e.clientX, y: e.clientY };
      canvas.setPointerCapture(e.pointerId);
      canvas.classList.add("model-diagram-dragging");
    });
    canvas.addEventListener("pointermove", function (e) {
      var last = pointers[e.pointerId];
      if (!last) { return; }
      var ids = Object.keys(pointers);
      if (ids.length === 2) {
        var a = pointers[ids[0]];
        var b = pointers[ids[1]];
        pointers[e.pointerId] = { x: e.clientX, y: e.clientY };
        var d = Math.hypot(pointers[ids[0]].x - pointers[ids[1]].x, pointers[ids[0]].y - pointers[ids[1]].y);
        if (pinch) {
          var r = canvas.getBoundingClientRect();
          self.zoomAt(d / pinch, (a.x + b.x) / 2 - r.left, (a.y + b.y) / 2 - r.top);
        }
        pinch = d;
        return;
      }
      self.panBy(e.clientX - last.x, e.clientY - last.y);
      pointers[e.pointerId] = { x: e.clientX, y: e.clientY };
    });
    function release(e) {
      delete pointers[e.pointerId];
      pinch = null;
      if (!Object.keys(pointers).length) { canvas.classList.remove("model-diagram-dragging"); }
    }
    canvas.addEventListener("pointerup", release);
    canvas.addEventListener("pointercancel", release);

    canvas.addEventListener("keydown", function (e) {
      var step = 40;
      var keys = {
        "+": function () { self.zoomBy(1.25); },
        "=": function () { self.zoomBy(1.25); },
        "-": function () { self.zoomBy(0.8); },
        "0": function () { self.reset(); },
        "f": function () { self.fit(); },
        "ArrowLeft": function () { self.panBy(step, 0); },
        "ArrowRight": function () { self.panBy(-step, 0); },
        "ArrowUp": function () { self.panBy(0, step); },
        "ArrowDown": function () { self.panBy(0, -step); }
      };
      if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
    });
    document.addEventListener("fullscreenchange", function () { self.fit(); });
    this.fit();
  }

  Viewer.prototype.apply = function () {
    this.svg.style.transform = "translate(" + this.x + "px," + this.y + "px) scale(" + this.scale + ")";
    this.canvas.dataset.scale = this.scale.toFixed(4);
    this.canvas.dataset.x = Math.round(this.x);
    this.canvas.dataset.y = Math.round(this.y);
  };
  Viewer.prototype.zoomAt = function (factor, cx, cy) {
    var next = Math.min(MAX, Math.max(MIN, this.scale * factor));
    var f = next / this.scale;
    this.x = cx - (cx - this.x) * f;
    this.y = cy - (cy - this.y) * f;
    this.scale = next;
    this.apply();
  };
  Viewer.prototype.zoomBy = function (factor) {
    this.zoomAt(factor, this.canvas.clientWidth / 2, this.canvas.clientHeight / 2);
  };
  Viewer.prototype.panBy = function (dx, dy) {
    this.x += dx;
    this.y += dy;
    this.apply();
  };
  Viewer.prototype.fit = function () {
    this.scale = Math.min(1, this.canvas.clientWidth / this.size.w);
    // as tall as the fitted drawing, never more than most of the window; a custom
    // property, not an inline height, so print and full screen rules still apply
    var tall = Math.min(window.innerHeight * 0.8, this.size.h * this.scale + 16);
    this.canvas.style.setProperty("--model-diagram-height", Math.max(120, tall) + "px");
    this.x = Math.max(0, (this.canvas.clientWidth - this.size.w * this.scale) / 2);
    // a wide, flat drawing sits in the middle of its frame, not on top of empty space
    this.y = Math.max(0, (this.canvas.clientHeight - this.size.h * this.scale) / 2);
    this.apply();
  };
  Viewer.prototype.reset = function () {
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.apply();
  };
  Viewer.prototype.fullscreen = function (figure) {
    var self = this;
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (figure.requestFullscreen) {
      figure.requestFullscreen().then(function () { self.fit(); }, function () {});
    }
  };

  function setup(canvas) {
    var svg = canvas.querySelector("svg");
    if (!svg || canvas.dataset.viewer) { return; }
    var size = naturalSize(svg);
    var big = size.w > canvas.clientWidth * 1.05 || size.h > window.innerHeight * 0.85;
    if (!big) { return; }
    canvas.dataset.viewer = "on";
    canvas.modelDiagramViewer = new Viewer(canvas.closest("figure"), canvas, svg);
  }

  // a canvas in a closed tab or <details> has no width yet: decide once it is shown
  var hidden = window.ResizeObserver && new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.target.clientWidth > 0) {
        hidden.unobserve(entry.target);
        setup(entry.target);
      }
    });
  });

  function init() {
    var canvases = document.querySelectorAll("figure.model-diagram .model-diagram-canvas");
    Array.prototype.forEach.call(canvases, function (canvas) {
      if (canvas.clientWidth > 0) {
        setup(canvas);
      } else if (hidden) {
        hidden.observe(canvas);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
  // Material's instant navigation swaps pages without a reload
  if (window.document$ && window.document$.subscribe) { window.document$.subscribe(init); }
})();
