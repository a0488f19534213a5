/**
 * Byte-stable YAML and JSON for manifests and profiles: keys sorted (their order carries no
 * meaning in Kubernetes objects or seccomp profiles), no anchors, no line folding, YAML 1.1
 * quoting (so `yes`, `on`, `y` stay strings for YAML 1.1 readers such as sigs.k8s.io/yaml). Lists of
 * plain values are written in flow style (`drop: [ALL]`), keeping syscall lists short.
 */
import { Document, isScalar, isSeq, visit } from 'yaml';

export interface YamlDoc {
  /** A comment printed before the document (each line gets `# `). */
  comment?: string;
  value: unknown;
}

function one(doc: YamlDoc): string {
  const d = new Document(doc.value, { version: '1.1', sortMapEntries: true, aliasDuplicateObjects: false });
  visit(d, {
    Seq(_, node) {
      if (isSeq(node) && node.items.length > 0 && node.items.every((i) => isScalar(i) && !(typeof i.value === 'string' && i.value.includes('\n')))) node.flow = true;
    },
  });
  if (doc.comment) d.commentBefore = doc.comment.split('\n').map((l) => ` ${l}`).join('\n');
  return d.toString({ lineWidth: 0, minContentWidth: 0, indent: 2, indentSeq: true, flowCollectionPadding: false });
}

/** Several documents separated by `---`, ending with a newline. */
export function toYaml(docs: readonly YamlDoc[]): string {
  return docs.map(one).join('---\n');
}

type Json = null | boolean | number | bigint | string | Json[] | { [k: string]: Json };

/** JSON with sorted keys, two-space indent, bigint kept exact, trailing newline. */
export function stableJson(value: unknown): string {
  const render = (v: Json, indent: string): string => {
    if (v === null) return 'null';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new TypeError('not a finite number');
      return JSON.stringify(v);
    }
    if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
    const inner = `${indent}  `;
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      // Arrays of scalars stay on one line: syscall name lists would otherwise be hundreds of lines.
      if (v.every((x) => x === null || typeof x !== 'object')) return `[${v.map((x) => render(x, inner)).join(', ')}]`;
      return `[\n${v.map((x) => inner + render(x, inner)).join(',\n')}\n${indent}]`;
    }
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    if (keys.length === 0) return '{}';
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${render(v[k]!, inner)}`).join(',\n')}\n${indent}}`;
  };
  return `${render(value as Json, '')}\n`;
}
