// The base map both apps share: Leaflet (a classic script: load /vendor/leaflet/dist/leaflet.js
// before the app's module, which then finds the global `L`) with the server's tile setting.
// Without tiles (setting empty, or offline) the map still shows its layers on a plain ground.
import { config } from './api.js';

/** Canton Tower, the middle of the demo district (Haizhu, Guangzhou). */
export const DEFAULT_CENTER = [23.1066, 113.3245];

export async function baseMap(el, { center = DEFAULT_CENTER, zoom = 13, ...options } = {}) {
  const cfg = await config().catch(() => ({}));
  const map = L.map(el, { center, zoom, ...options });
  if (cfg.map_tiles) {
    L.tileLayer(cfg.map_tiles, { attribution: cfg.map_attribution, maxZoom: 19 }).addTo(map);
  } else {
    el.classList.add('map-no-tiles');
  }
  L.control.scale({ imperial: false }).addTo(map);
  return map;
}

/** A GeoJSON Polygon or `{type: "Circle", center: [lng, lat], radius_m}` as a Leaflet layer. */
export function areaLayer(area, style = {}) {
  const s = { color: '#b3261e', weight: 2, fillOpacity: 0.12, ...style };
  if (area.type === 'Circle') {
    return L.circle([area.center[1], area.center[0]], { radius: area.radius_m, ...s });
  }
  // a pane or class name must reach the polygon when it is made (a style cannot set them later)
  const make = {};
  if (s.pane) make.pane = s.pane;
  if (s.className) make.className = s.className;
  return L.geoJSON(area, { ...make, style: () => s });
}
