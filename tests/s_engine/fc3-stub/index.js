// A local stand-in for the Serverless Devs `fc3` component. The engine (@serverless-devs/s 3.x)
// loads a component from a directory when `component:` names one: it requires package.json's
// `main`, constructs the exported class and calls the method named like the command
// (`deploy(inputs)`, `invoke(inputs)`). `inputs.props` are the props exactly as the engine resolved them, and
// `inputs.getCredential()` reads the access the engine chose, as the real component does before
// its first API call. This stub records both in $STUB_OUT/<resource>.json and deploys (or invokes) nothing.
// The credential's values are never written: only its field names and the AccountID.
'use strict';
const fs = require('fs');
const path = require('path');

class Fc3Stub {
  async getSchema() {   // `s verify` validates each resource's props against this
    const publish = fs.readFileSync(path.join(__dirname, 'publish.yaml'), 'utf8');
    const rel = /^Schema:\s*(\S+)\s*$/m.exec(publish)[1];
    return fs.readFileSync(path.join(__dirname, rel), 'utf8');
  }

  async deploy(inputs) {
    return this.record(inputs);
  }

  async invoke(inputs) {
    return this.record(inputs);
  }

  async record(inputs) {
    const out = process.env.STUB_OUT;
    if (!out) throw new Error('fc3-stub: STUB_OUT is not set');
    let credential = null;
    let credentialError = null;
    try {
      credential = await inputs.getCredential();
    } catch (err) {
      credentialError = String(err && err.message);
    }
    const record = {
      command: inputs.command,
      args: inputs.args,
      name: inputs.name,
      yamlPath: inputs.yaml && inputs.yaml.path,
      cwd: inputs.cwd,
      resource: inputs.resource,
      inputKeys: Object.keys(inputs).sort(),
      props: inputs.props,
      credentialFields: credential ? Object.keys(credential).sort() : null,
      accountId: credential ? credential.AccountID : null,
      credentialError,
    };
    fs.writeFileSync(path.join(out, `${inputs.resource.name}.json`), JSON.stringify(record, null, 1));
    return { stub: 'fc3', command: inputs.command, resource: inputs.resource.name };
  }
}

module.exports = Fc3Stub;
