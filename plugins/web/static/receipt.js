// Receipt checks in the browser: RFC 8785 canonical JSON (members whose value is null dropped,
// at any depth), SHA-256 and Ed25519 through WebCrypto. Nothing here trusts the node: the page
// recomputes what the coordinator signed and checks it with the published key.

/** Canonical JSON (JCS): keys sorted by UTF-16 code units, ECMAScript number and string forms. */
export function canonical(v) {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !isFinite(v)) throw new Error('not a finite number');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const keys = Object.keys(v).filter(k => v[k] !== null && v[k] !== undefined).sort();
  return `{${keys.map(k => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
}

const hex = bytes => [...new Uint8Array(bytes)].map(b => b.toString(16).padStart(2, '0')).join('');

function fromHex(s) {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error('bad hex');
  return new Uint8Array(s.match(/../g).map(x => parseInt(x, 16)));
}

function fromB64url(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('bad base64url');
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(b, c => c.charCodeAt(0));
}

export async function sha256Hex(text) {
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

/**
 * Verify a receipt against the node's published keys ({keys:[{key_id, public_key}]}).
 * Resolves {ok, reason}; optional job adds checks of payload_sha256 and result_sha256.
 */
export async function verifyReceipt(receipt, keys, job) {
  if (!receipt || typeof receipt.signature !== 'string') return { ok: false, reason: 'no signature' };
  const key = (keys || []).find(k => k.key_id === receipt.coordinator_key_id);
  if (!key) return { ok: false, reason: `unknown coordinator key ${receipt.coordinator_key_id}` };
  const { signature, ...signed } = receipt;
  let ok = false;
  try {
    const pk = await crypto.subtle.importKey('raw', fromHex(key.public_key), { name: 'Ed25519' }, false, ['verify']);
    ok = await crypto.subtle.verify({ name: 'Ed25519' }, pk, fromB64url(signature),
      new TextEncoder().encode(canonical(signed)));
  } catch (e) {
    return { ok: false, reason: `cannot verify: ${e.message}` };
  }
  if (!ok) return { ok: false, reason: 'the coordinator signature does not match these fields' };
  if (job) {
    if ((await sha256Hex(canonical(job.payload))) !== receipt.payload_sha256)
      return { ok: false, reason: 'payload_sha256 is not the hash of this job\'s payload' };
    const outcome = receipt.state === 'COMPLETED' ? job.result : job.error;
    if (outcome && (await sha256Hex(canonical(outcome))) !== receipt.result_sha256)
      return { ok: false, reason: 'result_sha256 is not the hash of this job\'s result' };
  }
  return { ok: true, reason: 'signed by the coordinator key ' + key.key_id };
}
