// A small drawing tool on Leaflet for task areas: a polygon (click each vertex; finish with the
// Finish button, a double-click, Enter, or a click on the first vertex) or a circle (click the
// centre, then a point on its edge). Escape cancels, Backspace removes the last vertex.
// The result is the API's area: a GeoJSON Polygon or {type: "Circle", center: [lng, lat], radius_m}.

const STYLE = { color: '#8c1d18', weight: 3, fillColor: '#b3261e', fillOpacity: 0.15 };
const MIN_RADIUS = 10;
const MAX_RADIUS = 5000;

export function createDrawTool(ctx, { onDone, onState }) {
  const map = ctx.map;
  const group = L.layerGroup().addTo(map);
  let mode = null;        // null | 'polygon' | 'circle'
  let vertices = [];      // L.LatLng
  let centre = null;
  let cursor = null;      // the mouse position while drawing
  let shape = null;       // the finished (or previewed) area layer

  function message() {
    if (mode === 'polygon') return ctx.t(vertices.length < 3 ? 'draw.polygonHelp' : 'draw.polygonHelpFinish', { n: vertices.length });
    if (mode === 'circle') return ctx.t(centre ? 'draw.circleHelpEdge' : 'draw.circleHelpCentre');
    return null;
  }

  function claim() {
    ctx.claimMap('draw', {
      message,
      onClick: click,
      onMove: (ev) => { cursor = ev.latlng; redraw(); },
      onCancel: () => stop(true),
    });
  }

  function start(kind) {
    stop(false);
    clearShape();
    mode = kind;
    vertices = [];
    centre = null;
    cursor = null;
    map.on('dblclick', dblclick);
    map.getContainer().addEventListener('keydown', keys);
    claim();
    onState?.(mode);
  }

  function stop(cancelled) {
    if (!mode) return;
    mode = null;
    map.off('dblclick', dblclick);
    map.getContainer().removeEventListener('keydown', keys);
    ctx.releaseMap('draw');
    if (cancelled) group.clearLayers();
    onState?.(null);
  }

  function near(a, b, px) {
    return map.latLngToContainerPoint(a).distanceTo(map.latLngToContainerPoint(b)) <= px;
  }

  function click(ev) {
    const p = ev.latlng;
    if (mode === 'polygon') {
      if (vertices.length >= 3 && near(p, vertices[0], 10)) { finish(); return; }
      // the two clicks of a double-click land on one spot: one vertex
      if (vertices.length && near(p, vertices[vertices.length - 1], 4)) return;
      vertices.push(p);
    } else if (mode === 'circle') {
      if (!centre) centre = p;
      else { cursor = p; finish(); return; }
    }
    redraw();
    claim();
  }

  function dblclick() {
    if (mode === 'polygon' && vertices.length >= 3) finish();
  }

  function keys(ev) {
    if (ev.key === 'Enter') { ev.preventDefault(); finish(); } else if (ev.key === 'Backspace') { ev.preventDefault(); undo(); }
  }

  function undo() {
    if (mode === 'polygon' && vertices.length) vertices.pop();
    else if (mode === 'circle') centre = null;
    redraw();
    claim();
  }

  function redraw() {
    group.clearLayers();
    if (mode === 'polygon') {
      const line = cursor ? [...vertices, cursor] : vertices;
      if (line.length >= 2) L.polyline(line, { ...STYLE, dashArray: '6 6', interactive: false }).addTo(group);
      vertices.forEach((v, i) => {
        L.circleMarker(v, { radius: i === 0 ? 7 : 5, color: '#fff', weight: 2, fillColor: '#8c1d18', fillOpacity: 1, className: 'draw-vertex' })
          .on('click', (ev) => { L.DomEvent.stopPropagation(ev); click({ latlng: v }); })
          .addTo(group);
      });
    } else if (mode === 'circle' && centre) {
      L.circleMarker(centre, { radius: 5, color: '#fff', weight: 2, fillColor: '#8c1d18', fillOpacity: 1, interactive: false }).addTo(group);
      if (cursor) L.circle(centre, { ...STYLE, radius: clampRadius(map.distance(centre, cursor)), dashArray: '6 6', interactive: false }).addTo(group);
    }
  }

  function clampRadius(r) { return Math.min(MAX_RADIUS, Math.max(MIN_RADIUS, r)); }

  function finish() {
    let area = null;
    if (mode === 'polygon') {
      if (vertices.length < 3) { ctx.toast(ctx.t('draw.needThree'), { error: true }); return; }
      area = polygonArea(vertices.map((v) => [v.lat, v.lng]));
    } else if (mode === 'circle') {
      if (!centre || !cursor) { ctx.toast(ctx.t('draw.circleHelpCentre'), { error: true }); return; }
      const r = Math.round(map.distance(centre, cursor));
      if (r > MAX_RADIUS) ctx.toast(ctx.t('draw.radiusClamped', { r: MAX_RADIUS }), { error: true });
      area = { type: 'Circle', center: [round(centre.lng), round(centre.lat)], radius_m: clampRadius(r) };
    }
    stop(false);
    group.clearLayers();
    if (area) { show(area); onDone?.(area); }
  }

  /** Shows `area` as the current shape (from the drawing or from the typed fields). */
  function show(area) {
    clearShape();
    if (!area) return;
    shape = area.type === 'Circle'
      ? L.circle([area.center[1], area.center[0]], { ...STYLE, radius: area.radius_m, className: 'draft-area' })
      : L.polygon(area.coordinates[0].slice(0, -1).map(([lng, lat]) => [lat, lng]), { ...STYLE, className: 'draft-area' });
    shape.addTo(map);
  }

  function clearShape() {
    shape?.remove();
    shape = null;
  }

  return {
    start, finish, undo, show,
    cancel: () => stop(true),
    clear: () => { stop(true); clearShape(); },
    get mode() { return mode; },
    get shape() { return shape; },
  };
}

const round = (x) => Math.round(x * 1e6) / 1e6;

/** A GeoJSON Polygon from [[lat, lng], …] (at least 3 vertices; the ring gets closed). */
export function polygonArea(latlngs) {
  const ring = latlngs.map(([lat, lng]) => [round(lng), round(lat)]);
  ring.push([...ring[0]]);
  return { type: 'Polygon', coordinates: [ring] };
}

/** Whether a closed ring of [x, y] crosses itself (segments that are not neighbours meet). */
export function selfIntersects(ring) {
  const n = ring.length - 1; // the last position repeats the first
  const cross = (a, b, c) => (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  const meets = (p1, p2, p3, p4) => {
    const d1 = cross(p3, p4, p1); const d2 = cross(p3, p4, p2);
    const d3 = cross(p1, p2, p3); const d4 = cross(p1, p2, p4);
    return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0));
  };
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;
      if (meets(ring[i], ring[i + 1], ring[j], ring[j + 1])) return true;
    }
  }
  return false;
}
