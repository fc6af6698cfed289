// Maps a key path back to a line and column in the YAML source, using the node
// ranges the `yaml` package keeps. Value problems point at the value, unknown keys
// at the key, and a missing key at the mapping that should have had it.
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { ConfigPathSegment } from './errors.js';

export interface SourcePosition {
  line: number;
  column: number;
}

interface Found {
  /** The deepest node reached along the path. */
  node: Node | null;
  /** The key node of the last pair walked through, when the whole path resolved. */
  key: Node | null;
  /** True when every segment was found. */
  complete: boolean;
}

function walk(doc: Document, segments: readonly ConfigPathSegment[]): Found {
  let node = doc.contents;
  let key: Node | null = null;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return { node, key: null, complete: false };
      key = pair.key as Node;
      // `key:` with nothing after it has a null value node; point at the key then.
      node = (pair.value as Node | null) ?? null;
      if (!node) return { node: key, key, complete: true };
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
      node = node.items[seg] as Node;
      key = null;
    } else {
      return { node, key: null, complete: false };
    }
  }
  return { node, key, complete: true };
}

function at(lines: LineCounter, offset: number): SourcePosition {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** Where the value at `segments` is (or, when absent, where its nearest existing parent is). */
export function positionOfValue(doc: Document, lines: LineCounter, segments: readonly ConfigPathSegment[]): SourcePosition {
  const found = walk(doc, segments);
  const range = found.node?.range;
  return range ? at(lines, range[0]) : { line: 1, column: 1 };
}

/** Where the key of the last segment is written (falls back to the value's position). */
export function positionOfKey(doc: Document, lines: LineCounter, segments: readonly ConfigPathSegment[]): SourcePosition {
  const found = walk(doc, segments);
  const range = (found.complete ? found.key?.range : undefined) ?? found.node?.range;
  return range ? at(lines, range[0]) : { line: 1, column: 1 };
}

/** The node at a path, when it exists. */
export function nodeAt(doc: Document, segments: readonly ConfigPathSegment[]): Node | null {
  const found = walk(doc, segments);
  return found.complete ? found.node : null;
}
