// sigstore-js (@sigstore/sign) signs one payload keyless against a Sigstore instance
// (the tests' stand-in on loopback) and prints the bundle JSON.
//
// Reads one JSON object on stdin:
//   {"fulcioURL", "token", "payload" (base64), "payloadType"?, "message"?: bool,
//    "rekorURL"?, "rekorMajorVersion"?: 1|2, "entryType"?: "dsse"|"intoto", "tsaURL"?}
// "message": true signs the payload as an artifact (message signature, hashedrekord);
// otherwise a DSSE envelope of payloadType. Without rekorURL no log entry is made.
'use strict';
const { bundleToJSON } = require('@sigstore/bundle');
const {
  DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness,
} = require('@sigstore/sign');

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function main() {
  const req = await readStdin();
  const signer = new FulcioSigner({
    fulcioBaseURL: req.fulcioURL,
    identityProvider: { getToken: async () => req.token },
  });
  const witnesses = [];
  if (req.rekorURL) {
    witnesses.push(new RekorWitness({
      rekorBaseURL: req.rekorURL,
      majorApiVersion: req.rekorMajorVersion || 1,
      entryType: req.entryType || 'dsse',
    }));
  }
  if (req.tsaURL) witnesses.push(new TSAWitness({ tsaBaseURL: req.tsaURL }));
  const artifact = { data: Buffer.from(req.payload, 'base64') };
  let bundle;
  if (req.message) {
    bundle = await new MessageSignatureBundleBuilder({ signer, witnesses }).create(artifact);
  } else {
    artifact.type = req.payloadType || 'application/vnd.in-toto+json';
    bundle = await new DSSEBundleBuilder({ signer, witnesses }).create(artifact);
  }
  process.stdout.write(JSON.stringify(bundleToJSON(bundle)) + '\n');
}

main().catch((e) => {
  process.stderr.write(`sign.js: ${e.code || e.name}: ${e.message}` +
                       (e.cause ? ` (${e.cause.message})` : '') + '\n');
  process.exitCode = 1;
});
