// sigstore-js (@sigstore/verify) verifies one Sigstore bundle offline against a trusted
// root: the independent verifier the interop tests compare attest with.
//
// usage: node verify.js BUNDLE TRUSTED_ROOT IDENTITY ISSUER [--artifact FILE]
//                       [--tlog-threshold N] [--ctlog-threshold N] [--key PEM_FILE]
// The thresholds default to the library's (one log entry, one SCT); a trust domain with
// no transparency log (GitHub's) is verified with both at 0, as `gh` does. --key verifies
// a managed-key bundle (verificationMaterial.publicKey) with that key, whatever its hint.
// Prints one JSON line {"ok": true} or {"ok": false, "code": ..., "message": ...};
// exits 0 when the bundle verifies, 1 when it does not, 2 on a usage error.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const USAGE = 'usage: verify.js BUNDLE TRUSTED_ROOT IDENTITY ISSUER [--artifact FILE] ' +
  '[--tlog-threshold N] [--ctlog-threshold N] [--key PEM_FILE]\n';

function main(argv) {
  const [bundlePath, rootPath, identity, issuer, ...rest] = argv;
  const options = {};
  let artifactPath;
  let keyPath;
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (value === undefined) break;
    if (flag === '--artifact') artifactPath = value;
    else if (flag === '--tlog-threshold') options.tlogThreshold = Number(value);
    else if (flag === '--ctlog-threshold') options.ctlogThreshold = Number(value);
    else if (flag === '--key') keyPath = value;
    else { process.stderr.write(USAGE); return 2; }
  }
  if (issuer === undefined || rest.length % 2 !== 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  try {
    const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
    const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
    const artifact = artifactPath ? fs.readFileSync(artifactPath) : undefined;
    const entity = toSignedEntity(bundle, artifact);
    const keys = keyPath === undefined ? undefined : () => ({
      publicKey: crypto.createPublicKey(fs.readFileSync(keyPath, 'utf8')),
      validFor: () => true,
    });
    const verifier = new Verifier(toTrustMaterial(root, keys), options);
    // ISSUER "-": the certificate must not be checked for one (GitHub release attestations)
    const policy = keyPath === undefined ? { subjectAlternativeName: identity } : {};
    if (issuer !== '-' && keyPath === undefined) policy.extensions = { issuer };
    verifier.verify(entity, policy);
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, code: e.code || e.name,
                                          message: String(e.message) }) + '\n');
    return 1;
  }
  process.stdout.write(JSON.stringify({ ok: true }) + '\n');
  return 0;
}

process.exitCode = main(process.argv.slice(2));
