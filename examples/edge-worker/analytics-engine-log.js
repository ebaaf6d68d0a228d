// A local stand-in for a Workers Analytics Engine dataset binding, for workerd
// outside Cloudflare (which has no Analytics Engine storage of its own; miniflare's
// local simulator discards the points). config.mjs installs it as a wrapped
// binding (`datasets: { DECISIONS: "jwt_edge_decisions" }`); the worker sees an
// object with `writeDataPoint(point)`, as on Cloudflare.
//
// Each accepted point is printed as one JSON line on the log:
//   {"event":"analytics_engine.write","dataset":"jwt_edge_decisions","indexes":[...],"blobs":[...],"doubles":[...]}
// A point that Analytics Engine would refuse throws, as the real binding does:
// more than 1 index, an index over 96 bytes, more than 20 blobs or 20 doubles,
// blobs over 16 KiB in total, a blob that is not a string / ArrayBuffer / null,
// a double that is not a finite number. (The limit of 250 points per invocation
// is not checked: the stand-in does not see invocations.)
const INDEX_MAX_BYTES = 96;
const MAX_BLOBS = 20;
const MAX_DOUBLES = 20;
const BLOBS_MAX_BYTES = 16 * 1024;

const size = (v) => (v === null ? 0 : typeof v === "string" ? new TextEncoder().encode(v).length : v.byteLength);
const text = (v) => (v === null || typeof v === "string" ? v : `<${v.byteLength} bytes>`);
const binary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);

class LoggedDataset {
  constructor(dataset) {
    this.dataset = dataset;
  }

  writeDataPoint(point = {}) {
    const { indexes = [], blobs = [], doubles = [] } = point;
    if (!Array.isArray(indexes) || !Array.isArray(blobs) || !Array.isArray(doubles)) throw new TypeError("indexes, blobs and doubles must be arrays");
    if (indexes.length > 1) throw new RangeError(`at most 1 index (got ${indexes.length})`);
    for (const i of indexes) {
      if (typeof i !== "string" && !binary(i)) throw new TypeError("an index must be a string or an ArrayBuffer");
      if (size(i) > INDEX_MAX_BYTES) throw new RangeError(`an index is at most ${INDEX_MAX_BYTES} bytes (got ${size(i)})`);
    }
    if (blobs.length > MAX_BLOBS) throw new RangeError(`at most ${MAX_BLOBS} blobs (got ${blobs.length})`);
    let total = 0;
    for (const b of blobs) {
      if (b !== null && typeof b !== "string" && !binary(b)) throw new TypeError("a blob must be a string, an ArrayBuffer or null");
      total += size(b);
    }
    if (total > BLOBS_MAX_BYTES) throw new RangeError(`blobs are at most ${BLOBS_MAX_BYTES} bytes in total (got ${total})`);
    if (doubles.length > MAX_DOUBLES) throw new RangeError(`at most ${MAX_DOUBLES} doubles (got ${doubles.length})`);
    for (const d of doubles) if (typeof d !== "number" || !Number.isFinite(d)) throw new TypeError("a double must be a finite number");
    console.log(JSON.stringify({ event: "analytics_engine.write", dataset: this.dataset, indexes: indexes.map(text), blobs: blobs.map(text), doubles }));
  }
}

// workerd calls this once with the inner bindings ({ dataset }) and uses the result as the binding.
export default function ({ dataset }) {
  return new LoggedDataset(dataset);
}
