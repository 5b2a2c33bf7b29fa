// Runs a TF.js graph model with TensorFlow.js's own CPU backend (npm @tensorflow/tfjs-core,
// -converter, -backend-cpu), the runtime the model was published for: reads the input tensor
// (float32, little-endian, the signature's shape) from IN.bin and writes every signature output as
// OUT_DIR/<name>.bin, for scripts/models/verify.py to compare with our ONNX conversion.
// usage: node run_tfjs_graph.js MODEL.json IN.bin OUT_DIR   (NODE_PATH pointing at the packages)
const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs-core");
require("@tensorflow/tfjs-backend-cpu");
const converter = require("@tensorflow/tfjs-converter");

async function main() {
  const [modelPath, inPath, outDir] = process.argv.slice(2);
  const json = JSON.parse(fs.readFileSync(modelPath, "utf8"));
  const base = path.dirname(modelPath);
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const buffers = json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(base, p))));
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  await tf.setBackend("cpu");
  const model = await converter.loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }),
  );
  const [inName, inSig] = Object.entries(json.signature.inputs)[0];
  const shape = inSig.tensorShape.dim.map((d) => Number(d.size));
  const raw = fs.readFileSync(inPath);
  const input = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), shape);
  const names = Object.keys(json.signature.outputs);
  const outs = await model.executeAsync({ [inName]: input }, names);
  for (let i = 0; i < names.length; i++) {
    const data = await outs[i].data();
    fs.writeFileSync(path.join(outDir, names[i].replace(/[:/]/g, "_") + ".bin"), Buffer.from(data.buffer));
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
