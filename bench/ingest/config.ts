/** The benchmark hierarchy: `units` work units `unit<n>`, ten per line `line<n>`, in one area. */
export function plantYaml(units: number): string {
  const lines = Array.from({ length: Math.ceil(units / 10) }, (_, l) => {
    const us = Array.from(
      { length: Math.min(10, units - l * 10) },
      (_, u) => `{ id: unit${u} }`,
    ).join(', ');
    return `          - { id: line${l}, units: [${us}] }`;
  }).join('\n');
  return `enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: UTC
    areas:
      - id: area1
        lines:
${lines}
`;
}

/** The benchmark plant: `units` work units, ten per line, and bindings for publisher.ts's topics. */
export function benchPlantYaml(units: number, connection: string, store: string): string {
  return `
${plantYaml(units)}connections: [${connection}]
bindings:
  - { connection: bench, topic: 'bench/{site}/{area}/{line}/{unit}/good', meaning: counter.good, payload: { valuePath: v, timestampPath: ts } }
  - { connection: bench, topic: 'bench/{site}/{area}/{line}/{unit}/state', meaning: state, payload: { valuePath: v, timestampPath: ts }, stateMap: { '1': running, '2': idle, '3': down } }
broker: { port: 0 }
store: ${store}
`;
}
