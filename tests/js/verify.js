// sigstore-js (@sigstore/verify) verifies one Sigstore bundle offline against a trusted
// root: the independent verifier the interop tests compare attest with.
//
// usage: node verify.js BUNDLE TRUSTED_ROOT IDENTITY ISSUER [ARTIFACT]
// Prints one JSON line {"ok": true} or {"ok": false, "code": ..., "message": ...};
// exits 0 when the bundle verifies, 1 when it does not, 2 on a usage error.
'use strict';
const fs = require('fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

function main(argv) {
  if (argv.length < 4 || argv.length > 5) {
    process.stderr.write('usage: verify.js BUNDLE TRUSTED_ROOT IDENTITY ISSUER [ARTIFACT]\n');
    return 2;
  }
  const [bundlePath, rootPath, identity, issuer, artifactPath] = argv;
  try {
    const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
    const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
    const artifact = artifactPath ? fs.readFileSync(artifactPath) : undefined;
    const entity = toSignedEntity(bundle, artifact);
    // The thresholds are the library's defaults: one log entry (or one timestamp), one SCT.
    const verifier = new Verifier(toTrustMaterial(root));
    verifier.verify(entity, { subjectAlternativeName: identity, extensions: { issuer } });
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, code: e.code || e.name,
                                          message: String(e.message) }) + '\n');
    return 1;
  }
  process.stdout.write(JSON.stringify({ ok: true }) + '\n');
  return 0;
}

process.exitCode = main(process.argv.slice(2));
