/* model-diagram viewer: pan and zoom for diagrams larger than the page.
 *
 * Shipped with the package (no CDN). Without scripts the static SVG shows,
 * scaled to the content width; print always shows the whole figure.
 * Controls: buttons (zoom in/out, fit width, reset, full screen), Ctrl/Cmd +
 * wheel or pinch to zoom, drag to pan, and the keyboard when the canvas has
 * focus: + / - zoom, arrow keys pan, 0 resets, f fits the width.
 * State is mirrored in data-scale / data-x / data-y on the canvas.
 *
 * Explorer: a figure carrying a <script class="model-diagram-views"> manifest
 * (a diagram folded to its node budget) lets the reader open folded modules
 * (click or Enter), go back with the breadcrumbs or the browser's back button,
 * deep-link to a module (#figure-id/encoder.layer.0), find a layer by name or
 * type, and read a focused node's details. Views load lazily from sidecar .js
 * files that register themselves in window.modelDiagramViews (works on file://).
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
      pointers[e.pointerId] = { x: e.clientX, y: e.clientY, startX: e.clientX, startY: e.clientY };
      self.moved = false;
    });
    canvas.addEventListener("pointermove", function (e) {
      var last = pointers[e.pointerId];
      if (!last) { return; }
      if (!last.captured) {
        // captured only once it moves, so a plain click still reaches the node under it
        if (Math.abs(e.clientX - last.startX) + Math.abs(e.clientY - last.startY) < 4) { return; }
        last.captured = true;
        self.moved = true;
        canvas.setPointerCapture(e.pointerId);
        canvas.classList.add("model-diagram-dragging");
      }
      var ids = Object.keys(pointers);
      if (ids.length === 2) {
        var a = pointers[ids[0]];
        var b = pointers[ids[1]];
        last.x = e.clientX;
        last.y = e.clientY;
        var d = Math.hypot(pointers[ids[0]].x - pointers[ids[1]].x, pointers[ids[0]].y - pointers[ids[1]].y);
        if (pinch) {
          var r = canvas.getBoundingClientRect();
          self.zoomAt(d / pinch, (a.x + b.x) / 2 - r.left, (a.y + b.y) / 2 - r.top);
        }
        pinch = d;
        return;
      }
      self.panBy(e.clientX - last.x, e.clientY - last.y);
      last.x = e.clientX;
      last.y = e.clientY;
    });
    function release(e) {
      delete pointers[e.pointerId];
      pinch = null;
      if (!Object.keys(pointers).length) { canvas.classList.remove("model-diagram-dragging"); }
    }
    canvas.addEventListener("pointerup", release);
    // the viewer pans with a transform: when focus scrolls the frame to show a node,
    // that scroll becomes a pan (the node stays where the browser put it)
    canvas.addEventListener("scroll", function () {
      if (!canvas.scrollTop && !canvas.scrollLeft) { return; }
      self.x -= canvas.scrollLeft;
      self.y -= canvas.scrollTop;
      canvas.scrollTop = 0;
      canvas.scrollLeft = 0;
      self.apply();
    });
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
    // only the figure that entered or left full screen refits: the others keep their zoom
    document.addEventListener("fullscreenchange", function () {
      var full = document.fullscreenElement === figure;
      if (full || self.full) { self.fit(); }
      self.full = full;
    });
    this.fit();
  }

  Viewer.prototype.replace = function (svg) {
    this.svg = svg;
    this.size = naturalSize(svg);
    svg.setAttribute("width", this.size.w);
    svg.setAttribute("height", this.size.h);
    this.fit();
  };
  /* pan so that element is in view (centred), unless it is in view already */
  Viewer.prototype.centerOn = function (element) {
    var r = element.getBoundingClientRect();
    var c = this.canvas.getBoundingClientRect();
    if (r.left >= c.left && r.right <= c.right && r.top >= c.top && r.bottom <= c.bottom) { return; }
    var s = this.svg.getBoundingClientRect();
    var cx = (r.left + r.width / 2 - s.left) / this.scale;
    var cy = (r.top + r.height / 2 - s.top) / this.scale;
    this.x = this.canvas.clientWidth / 2 - cx * this.scale;
    this.y = this.canvas.clientHeight / 2 - cy * this.scale;
    this.apply();
  };
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

  // -- explorer: views of a folded diagram -------------------------------------------

  var PREFIX = /^md[0-9a-f]{10}-(?:\d+-)?/; // clean_svg's per-diagram id prefix (+ occurrence)
  var explorers = [];

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function shapes(list, dtypes) {
    return (list || []).map(function (shape, i) {
      return "(" + shape.join(", ") + ")" + (dtypes && dtypes[i] ? " " + dtypes[i] : "");
    }).join(", ");
  }

  function Explorer(figure, canvas, data) {
    var self = this;
    this.figure = figure;
    this.canvas = canvas;
    this.data = data;
    this.id = figure.id || data.id;
    this.views = data.views;
    this.current = "";
    this.overview = canvas.querySelector("svg.model-diagram-svg");
    this.pending = null;
    figure.classList.add("model-diagram-explorer");

    var bar = el("div", "model-diagram-explorer-bar");
    this.crumbs = el("nav", "model-diagram-crumbs");
    this.crumbs.setAttribute("aria-label", "Views of this diagram");
    bar.appendChild(this.crumbs);
    var find = el("div", "model-diagram-find");
    find.setAttribute("role", "search");
    this.input = el("input", "model-diagram-find-input");
    this.input.type = "search";
    this.input.placeholder = "Find a layer";
    this.input.setAttribute("aria-label", "Find a layer by name or type");
    this.results = el("ul", "model-diagram-results");
    this.results.setAttribute("role", "listbox");
    this.results.setAttribute("aria-label", "Layers found");
    this.results.hidden = true;
    find.appendChild(this.input);
    find.appendChild(this.results);
    bar.appendChild(find);
    figure.insertBefore(bar, figure.firstChild);
    this.details = el("div", "model-diagram-details");
    this.details.setAttribute("role", "status");
    this.details.setAttribute("aria-live", "polite");
    canvas.parentNode.insertBefore(this.details, canvas.nextSibling);

    this.input.addEventListener("input", function () { self.search(self.input.value); });
    this.input.addEventListener("keydown", function (e) {
      var first = self.results.querySelector("button");
      if (e.key === "Enter" && first) { e.preventDefault(); first.click(); }
      if (e.key === "ArrowDown" && first) { e.preventDefault(); first.focus(); }
      if (e.key === "Escape") { self.input.value = ""; self.search(""); }
    });
    this.results.addEventListener("keydown", function (e) {
      var item = document.activeElement && document.activeElement.closest("li");
      if (!item) { return; }
      var next = e.key === "ArrowDown" ? item.nextElementSibling : e.key === "ArrowUp" ? item.previousElementSibling : null;
      if (next) { e.preventDefault(); next.querySelector("button").focus(); }
      else if (e.key === "ArrowUp") { e.preventDefault(); self.input.focus(); }
    });
    window.addEventListener("beforeprint", function () {
      self.printed = self.current;
      if (self.current) { self.swap(self.overview); }
    });
    window.addEventListener("afterprint", function () {
      if (self.printed) { self.open(self.printed, { push: false }); }
      self.printed = "";
    });
    this.wire(this.overview, this.views[""] ? this.views[""].nodes : {});
    this.renderCrumbs();
    explorers.push(this);
    this.follow(location.hash, true);
  }

  /* the path of a view (or layer) inside this figure's deep link, or null */
  Explorer.prototype.parse = function (hash) {
    var text = decodeURIComponent((hash || "").replace(/^#/, ""));
    if (text === this.id) { return ""; }
    if (text.indexOf(this.id + "/") !== 0) { return null; }
    return text.slice(this.id.length + 1);
  };

  Explorer.prototype.follow = function (hash, scroll) {
    var path = this.parse(hash);
    if (path === null) { return; }
    var target = this.locate(path);
    if (scroll) { this.figure.scrollIntoView({ block: "start" }); }
    this.open(target.view, { push: false, highlight: target.node });
  };

  /* a qualified name -> the view to open and the node to highlight there */
  Explorer.prototype.locate = function (path) {
    var canonical = path;
    (this.data.aliases || []).forEach(function (alias) {
      var head = alias[0] + ".";
      if (canonical.indexOf(head) !== 0) { return; }
      var rest = canonical.slice(head.length).split(".");
      var k = parseInt(rest[0], 10);
      if (String(k) === rest[0] && k > alias[1] && k <= alias[2]) {
        rest[0] = String(alias[1]);
        canonical = head + rest.join(".");
      }
    });
    if (this.views[canonical]) { return { view: canonical, node: null }; }
    var found = (this.data.index || []).filter(function (entry) { return entry.label === canonical; });
    if (found.length) { return { view: found[found.length - 1].view, node: found[found.length - 1].node }; }
    var best = "";
    Object.keys(this.views).forEach(function (key) {
      if (key && canonical.indexOf(key + ".") === 0 && key.length > best.length) { best = key; }
    });
    return { view: best, node: null };
  };

  Explorer.prototype.chain = function (key) {
    var keys = [];
    var seen = {};
    while (key !== null && key !== undefined && this.views[key] && !seen[key]) {
      seen[key] = true;
      keys.unshift(key);
      key = this.views[key].parent;
    }
    if (keys[0] !== "") { keys.unshift(""); }
    return keys;
  };

  Explorer.prototype.renderCrumbs = function () {
    var self = this;
    var list = el("ol");
    var keys = this.chain(this.current);
    keys.forEach(function (key, i) {
      var item = el("li");
      var view = self.views[key] || { title: key };
      var label = key ? key : (view.title || "Model");
      if (i === keys.length - 1) {
        var here = el("span", "model-diagram-crumb-current", label);
        here.setAttribute("aria-current", "location");
        here.title = view.title || label;
        item.appendChild(here);
      } else {
        var b = el("button", "model-diagram-crumb", label);
        b.type = "button";
        b.title = "Back to " + (view.title || label);
        b.addEventListener("click", function () { self.open(key, { push: true }); });
        item.appendChild(b);
      }
      list.appendChild(item);
    });
    this.crumbs.textContent = "";
    this.crumbs.appendChild(list);
    this.figure.dataset.view = this.current;
  };

  Explorer.prototype.load = function (key, done) {
    var view = this.views[key];
    var registry = window.modelDiagramViews = window.modelDiagramViews || {};
    if (!view) { return done(null); }
    if (view.svg) { return done(view); }
    if (registry[view.sid]) { return done(registry[view.sid]); }
    var script = document.createElement("script");
    script.src = view.src;
    script.async = true;
    script.onload = function () { done((window.modelDiagramViews || {})[view.sid] || null); };
    script.onerror = function () { done(null); };
    document.head.appendChild(script);
  };

  Explorer.prototype.open = function (key, options) {
    var self = this;
    options = options || {};
    if (!this.views[key]) { key = ""; }
    var ticket = {};
    this.pending = ticket;
    var finish = function (payload) {
      if (self.pending !== ticket) { return; } // a later open won
      if (key && !payload) {
        self.details.textContent = "This view could not be loaded (" + key + ").";
        return;
      }
      if (key !== self.current || options.force) {
        var svg = self.overview;
        var nodes = self.views[""] ? self.views[""].nodes : {};
        if (key) {
          var holder = document.createElement("div");
          holder.innerHTML = payload.svg;
          svg = holder.querySelector("svg");
          nodes = payload.nodes || {};
          self.wire(svg, nodes);
        }
        self.current = key;
        self.swap(svg);
        if (options.push) {
          var hash = "#" + encodeURIComponent(self.id) + (key ? "/" + key : "");
          history.pushState({ modelDiagram: self.id, view: key }, "", hash);
        }
        self.renderCrumbs();
        self.details.textContent = key ? "Showing " + self.views[key].title : "";
      }
      if (options.highlight) { self.highlight(options.highlight); }
      else if (options.focus !== false && options.push) { self.canvas.focus({ preventScroll: true }); }
    };
    if (!key) { finish(null); } else { this.load(key, finish); }
  };

  Explorer.prototype.swap = function (svg) {
    var old = this.canvas.querySelector("svg.model-diagram-svg");
    if (old !== svg) { this.canvas.replaceChild(svg, old); }
    if (this.canvas.modelDiagramViewer) {
      this.canvas.modelDiagramViewer.replace(svg);
    } else {
      setup(this.canvas);
    }
  };

  Explorer.prototype.element = function (svg, local) {
    var found = null;
    Array.prototype.forEach.call(svg.querySelectorAll("[id]"), function (node) {
      if (!found && node.id.replace(PREFIX, "") === local) { found = node; }
    });
    return found;
  };

  Explorer.prototype.highlight = function (local) {
    var svg = this.canvas.querySelector("svg.model-diagram-svg");
    Array.prototype.forEach.call(svg.querySelectorAll(".model-diagram-found"), function (node) {
      node.classList.remove("model-diagram-found");
    });
    var node = this.element(svg, "n" + local) || this.element(svg, local);
    if (!node) { return; }
    node.classList.add("model-diagram-found");
    if (this.canvas.modelDiagramViewer) { this.canvas.modelDiagramViewer.centerOn(node); }
    node.focus({ preventScroll: true });
  };

  Explorer.prototype.wire = function (svg, nodes) {
    var self = this;
    Array.prototype.forEach.call(svg.querySelectorAll("g[id]"), function (g) {
      var local = g.id.replace(PREFIX, "");
      var info = nodes[local];
      if (!info) { return; }
      g.classList.add("model-diagram-node");
      g.setAttribute("tabindex", "0");
      g.dataset.layer = local;
      Array.prototype.forEach.call(g.querySelectorAll("a"), function (a) { a.setAttribute("tabindex", "-1"); });
      if (info.opens) {
        g.classList.add("model-diagram-opens");
        g.setAttribute("aria-label", "Open " + (info.qualname || info.opens) + (info.name ? " (" + info.name + ")" : ""));
      }
      g.addEventListener("focus", function () { self.describe(g, info); });
      g.addEventListener("click", function (e) {
        var viewer = self.canvas.modelDiagramViewer;
        if (viewer && viewer.moved) { e.preventDefault(); return; }
        if (info.opens) {
          e.preventDefault();
          e.stopPropagation();
          self.open(info.opens, { push: true });
        } else {
          self.describe(g, info);
        }
      });
      g.addEventListener("keydown", function (e) {
        if ((e.key === "Enter" || e.key === " ") && info.opens) {
          e.preventDefault();
          e.stopPropagation();
          self.open(info.opens, { push: true });
        }
      });
    });
  };

  Explorer.prototype.describe = function (g, info) {
    var self = this;
    var box = this.details;
    box.textContent = "";
    if (info.kind === "repeat") {
      box.appendChild(el("strong", "", "Repeated block"));
      box.appendChild(document.createTextNode(" drawn once; "));
    } else {
      var head = el("strong", "", info.qualname || info.label || info.name || "");
      box.appendChild(head);
      var cls = info.cls || (info.kind === "function" ? "function " + info.name : info.kind);
      if (cls) { box.appendChild(document.createTextNode(" " + cls)); }
      var facts = el("dl");
      var add = function (term, value) {
        if (!value && value !== 0) { return; }
        facts.appendChild(el("dt", "", term));
        facts.appendChild(el("dd", "", String(value)));
      };
      if (info.params !== undefined) { add("parameters", Number(info.params).toLocaleString("en")); }
      if (info.repeat) { add("repeated", "x" + info.repeat + " (" + info.repeat_group + ")"); }
      if (info.kind !== "input") { add("input", shapes(info.inputs, info.in_dtypes)); }
      add("output", shapes(info.outputs, info.out_dtypes));
      box.appendChild(facts);
      var link = g.querySelector("a[href], a[*|href]");
      var href = link && (link.getAttribute("href") || link.getAttributeNS("http://www.w3.org/1999/xlink", "href"));
      if (href && href.indexOf("#md-class:") !== 0) { // a placeholder resolved to an API page
        var api = el("a", "model-diagram-api", "API documentation");
        api.href = href;
        box.appendChild(api);
      }
    }
    if (info.opens) {
      var open = el("button", "model-diagram-open", "Open " + info.opens);
      open.type = "button";
      open.addEventListener("click", function () { self.open(info.opens, { push: true }); });
      box.appendChild(open);
    }
  };

  Explorer.prototype.search = function (text) {
    var self = this;
    var query = text.trim().toLowerCase();
    this.results.textContent = "";
    if (!query) { this.results.hidden = true; return; }
    var hits = (this.data.index || []).filter(function (entry) {
      return entry.label.toLowerCase().indexOf(query) >= 0 || entry.type.toLowerCase().indexOf(query) >= 0;
    });
    hits.slice(0, 30).forEach(function (entry) {
      var item = el("li");
      item.setAttribute("role", "option");
      var b = el("button", "model-diagram-result");
      b.type = "button";
      b.appendChild(el("span", "model-diagram-result-name", entry.label));
      b.appendChild(el("span", "model-diagram-result-type", " " + entry.type));
      b.addEventListener("click", function () {
        self.results.hidden = true;
        self.open(entry.view, { push: entry.view !== self.current, highlight: entry.node });
      });
      item.appendChild(b);
      self.results.appendChild(item);
    });
    if (!hits.length) { this.results.appendChild(el("li", "model-diagram-no-result", "No layer matches")); }
    this.results.hidden = false;
  };

  window.addEventListener("popstate", function () {
    explorers.forEach(function (explorer) {
      if (!document.contains(explorer.figure)) { return; }
      var path = explorer.parse(location.hash);
      if (path === null) {
        if (explorer.current) { explorer.open("", { push: false }); }
        return;
      }
      explorer.follow(location.hash, false);
    });
  });

  function setup(canvas) {
    var svg = canvas.querySelector("svg.model-diagram-svg") || canvas.querySelector("svg");
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
      var data = canvas.querySelector("script.model-diagram-views");
      if (data && !canvas.modelDiagramExplorer) {
        try {
          canvas.modelDiagramExplorer = new Explorer(canvas.closest("figure"), canvas, JSON.parse(data.textContent));
        } catch (err) {
          if (window.console) { window.console.warn("model-diagram: explorer disabled", err); }
        }
      }
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
