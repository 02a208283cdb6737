// Original file: proto/dlphys.proto


export interface Ack {
}

export interface Ack__Output {
}
