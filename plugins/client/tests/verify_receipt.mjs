// Independent receipt check for the integration tests: Node's own Ed25519 (OpenSSL), not
// libsodium, over an RFC 8785 canonical form written here from the spec.
// usage: node verify_receipt.mjs RECEIPT.json PUBLIC_KEY_HEX   (exit 0 = verifies)
import { readFileSync } from 'node:fs';
import { createPublicKey, verify } from 'node:crypto';

function canonical(v) {
    if (v === null || typeof v === 'boolean') return JSON.stringify(v);
    if (typeof v === 'number') {
        if (!Number.isInteger(v)) throw new Error('receipts carry integers only');
        return String(v);
    }
    if (typeof v === 'string') return JSON.stringify(v);
    if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
    // JCS: members sorted by UTF-16 code units (JS string order); null members omitted (API.md).
    const keys = Object.keys(v).filter((k) => v[k] !== null).sort();
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
}

const [file, pkHex] = process.argv.slice(2);
const receipt = JSON.parse(readFileSync(file, 'utf8'));
const sig = Buffer.from(receipt.signature, 'base64url');
delete receipt.signature;
const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex'); // SubjectPublicKeyInfo, Ed25519
const key = createPublicKey({ key: Buffer.concat([spkiPrefix, Buffer.from(pkHex, 'hex')]),
                              format: 'der', type: 'spki' });
const ok = verify(null, Buffer.from(canonical(receipt), 'utf8'), key, sig);
console.error(`node verify ${receipt.receipt_id}: ${ok ? 'OK' : 'BAD'}`);
process.exit(ok ? 0 : 1);
