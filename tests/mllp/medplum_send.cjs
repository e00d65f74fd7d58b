// Sends the MLLP-framed messages of a file with @medplum/hl7's client (npm), one at a time
// waiting for each acknowledgement, and prints "CONTROL_ID CODE" per answer.
//   NODE_PATH=DIR/node_modules node medplum_send.cjs PORT_FILE FILE
const fs = require('node:fs');
const { Hl7Client } = require('@medplum/hl7');
const { Hl7Message } = require('@medplum/core');

async function main() {
    const [portFile, file] = process.argv.slice(2);
    const [host, port] = fs.readFileSync(portFile, 'utf8').trim().split(':');
    const text = fs.readFileSync(file, 'latin1');
    const msgs = text.split('\x1c\r').map((m) => m.replace(/^[^\x0b]*\x0b/, '')).filter((m) => m);
    const client = new Hl7Client({ host, port: Number(port) });
    for (const m of msgs) {
        const ack = await client.sendAndWait(Hl7Message.parse(m));
        const msa = ack.getSegment('MSA');
        console.log(`${msa.getField(2).toString()} ${msa.getField(1).toString()}`);
    }
    client.close();
}

main().catch((err) => {
    console.error(`medplum client: ${err.message}`);
    process.exit(1);
});
