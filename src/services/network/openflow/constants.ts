/**
 * OpenFlow 1.3 protocol numbers (OpenFlow Switch Specification 1.3.5, ONF TS-023, section 7 and appendix A).
 * Only the subset this agent speaks is named.
 */

/** wire protocol version of OpenFlow 1.3 (OFP_VERSION). */
export const OFP_VERSION = 0x04;
/** IANA-assigned OpenFlow port (spec 6.3.2). */
export const OFP_TCP_PORT = 6653;
/** Header length (ofp_header). */
export const OFP_HEADER_BYTES = 8;
/** buffer_id meaning "not buffered" (OFP_NO_BUFFER). */
export const OFP_NO_BUFFER = 0xffffffff;

/** Message types (ofp_type, spec 7.1). */
export const OFPT = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  GET_CONFIG_REQUEST: 7,
  GET_CONFIG_REPLY: 8,
  SET_CONFIG: 9,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  GROUP_MOD: 15,
  PORT_MOD: 16,
  TABLE_MOD: 17,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
  QUEUE_GET_CONFIG_REQUEST: 22,
  QUEUE_GET_CONFIG_REPLY: 23,
  ROLE_REQUEST: 24,
  ROLE_REPLY: 25,
  GET_ASYNC_REQUEST: 26,
  GET_ASYNC_REPLY: 27,
  SET_ASYNC: 28,
  METER_MOD: 29,
} as const;

/** Reserved port numbers (ofp_port_no, spec 7.2.1). */
export const OFPP = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;

/** OFPG_ANY: no group filter. */
export const OFPG_ANY = 0xffffffff;
/** OFPTT_ALL: all tables (delete and stats only). */
export const OFPTT_ALL = 0xff;
/** OFPC_*: switch configuration flags (spec 7.3.2, ofp_config_flags): IP fragment handling. */
export const OFPC = { FRAG_NORMAL: 0, FRAG_DROP: 1, FRAG_REASM: 2, FRAG_MASK: 3 } as const;
/** OFPSCFC_*: switch config failed codes. */
export const OFPSCFC = { BAD_FLAGS: 0, BAD_LEN: 1, EPERM: 2 } as const;

/** OFPCML_NO_BUFFER: send the whole packet to the controller. */
export const OFPCML_NO_BUFFER = 0xffff;

/** Error types (ofp_error_type, spec 7.4.4) and the codes used here. */
export const OFPET = {
  HELLO_FAILED: 0,
  BAD_REQUEST: 1,
  BAD_ACTION: 2,
  BAD_INSTRUCTION: 3,
  BAD_MATCH: 4,
  FLOW_MOD_FAILED: 5,
  GROUP_MOD_FAILED: 6,
  PORT_MOD_FAILED: 7,
  TABLE_MOD_FAILED: 8,
  QUEUE_OP_FAILED: 9,
  SWITCH_CONFIG_FAILED: 10,
  ROLE_REQUEST_FAILED: 11,
  METER_MOD_FAILED: 12,
  TABLE_FEATURES_FAILED: 13,
} as const;

/** OFPHFC_*: hello failed codes. */
export const OFPHFC = { INCOMPATIBLE: 0, EPERM: 1 } as const;
/** OFPBRC_*: bad request codes. */
export const OFPBRC = {
  BAD_VERSION: 0,
  BAD_TYPE: 1,
  BAD_MULTIPART: 2,
  BAD_EXPERIMENTER: 3,
  BAD_EXP_TYPE: 4,
  EPERM: 5,
  BAD_LEN: 6,
  BUFFER_EMPTY: 7,
  BUFFER_UNKNOWN: 8,
  BAD_TABLE_ID: 9,
  IS_SLAVE: 10,
  BAD_PORT: 11,
  BAD_PACKET: 12,
  MULTIPART_BUFFER_OVERFLOW: 13,
} as const;
/** OFPBAC_*: bad action codes. */
export const OFPBAC = {
  BAD_TYPE: 0,
  BAD_LEN: 1,
  BAD_EXPERIMENTER: 2,
  BAD_EXP_TYPE: 3,
  BAD_OUT_PORT: 4,
  BAD_ARGUMENT: 5,
  EPERM: 6,
  TOO_MANY: 7,
  BAD_QUEUE: 8,
  BAD_OUT_GROUP: 9,
  MATCH_INCONSISTENT: 10,
  UNSUPPORTED_ORDER: 11,
  BAD_TAG: 12,
  BAD_SET_TYPE: 13,
  BAD_SET_LEN: 14,
  BAD_SET_ARGUMENT: 15,
} as const;
/** OFPBIC_*: bad instruction codes. */
export const OFPBIC = {
  UNKNOWN_INST: 0,
  UNSUP_INST: 1,
  BAD_TABLE_ID: 2,
  UNSUP_METADATA: 3,
  UNSUP_METADATA_MASK: 4,
  BAD_EXPERIMENTER: 5,
  BAD_EXP_TYPE: 6,
  BAD_LEN: 7,
  EPERM: 8,
} as const;
/** OFPBMC_*: bad match codes. */
export const OFPBMC = {
  BAD_TYPE: 0,
  BAD_LEN: 1,
  BAD_TAG: 2,
  BAD_DL_ADDR_MASK: 3,
  BAD_NW_ADDR_MASK: 4,
  BAD_WILDCARDS: 5,
  BAD_FIELD: 6,
  BAD_VALUE: 7,
  BAD_MASK: 8,
  BAD_PREREQ: 9,
  DUP_FIELD: 10,
  EPERM: 11,
} as const;
/** OFPFMFC_*: flow mod failed codes. */
export const OFPFMFC = {
  UNKNOWN: 0,
  TABLE_FULL: 1,
  BAD_TABLE_ID: 2,
  OVERLAP: 3,
  EPERM: 4,
  BAD_TIMEOUT: 5,
  BAD_COMMAND: 6,
  BAD_FLAGS: 7,
} as const;

/** FLOW_MOD commands (ofp_flow_mod_command). */
export const OFPFC = { ADD: 0, MODIFY: 1, MODIFY_STRICT: 2, DELETE: 3, DELETE_STRICT: 4 } as const;
/** FLOW_MOD flags (ofp_flow_mod_flags). */
export const OFPFF = {
  SEND_FLOW_REM: 1,
  CHECK_OVERLAP: 2,
  RESET_COUNTS: 4,
  NO_PKT_COUNTS: 8,
  NO_BYT_COUNTS: 16,
} as const;
/** FLOW_REMOVED reasons. */
export const OFPRR = { IDLE_TIMEOUT: 0, HARD_TIMEOUT: 1, DELETE: 2, GROUP_DELETE: 3 } as const;
/** PACKET_IN reasons. */
export const OFPR = { NO_MATCH: 0, ACTION: 1, INVALID_TTL: 2 } as const;
/** PORT_STATUS reasons. */
export const OFPPR = { ADD: 0, DELETE: 1, MODIFY: 2 } as const;

/** Instruction types (ofp_instruction_type). */
export const OFPIT = {
  GOTO_TABLE: 1,
  WRITE_METADATA: 2,
  WRITE_ACTIONS: 3,
  APPLY_ACTIONS: 4,
  CLEAR_ACTIONS: 5,
  METER: 6,
  EXPERIMENTER: 0xffff,
} as const;

/** Action types (ofp_action_type). */
export const OFPAT = {
  OUTPUT: 0,
  COPY_TTL_OUT: 11,
  COPY_TTL_IN: 12,
  SET_MPLS_TTL: 15,
  DEC_MPLS_TTL: 16,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  PUSH_MPLS: 19,
  POP_MPLS: 20,
  SET_QUEUE: 21,
  GROUP: 22,
  SET_NW_TTL: 23,
  DEC_NW_TTL: 24,
  SET_FIELD: 25,
  PUSH_PBB: 26,
  POP_PBB: 27,
  EXPERIMENTER: 0xffff,
} as const;

/** Multipart types (ofp_multipart_type). */
export const OFPMP = {
  DESC: 0,
  FLOW: 1,
  AGGREGATE: 2,
  TABLE: 3,
  PORT_STATS: 4,
  QUEUE: 5,
  GROUP: 6,
  GROUP_DESC: 7,
  GROUP_FEATURES: 8,
  METER: 9,
  METER_CONFIG: 10,
  METER_FEATURES: 11,
  TABLE_FEATURES: 12,
  PORT_DESC: 13,
  EXPERIMENTER: 0xffff,
} as const;

/** OXM class of the standard fields. */
export const OFPXMC_OPENFLOW_BASIC = 0x8000;
/** Standard OXM fields (oxm_ofb_match_fields) supported here. */
export const OXM = {
  IN_PORT: 0,
  ETH_DST: 3,
  ETH_SRC: 4,
  ETH_TYPE: 5,
  VLAN_VID: 6,
  VLAN_PCP: 7,
  IP_DSCP: 8,
  IP_ECN: 9,
  IP_PROTO: 10,
  IPV4_SRC: 11,
  IPV4_DST: 12,
  TCP_SRC: 13,
  TCP_DST: 14,
  UDP_SRC: 15,
  UDP_DST: 16,
  ICMPV4_TYPE: 19,
  ICMPV4_CODE: 20,
  ARP_OP: 21,
  ARP_SPA: 22,
  ARP_TPA: 23,
  ARP_SHA: 24,
  ARP_THA: 25,
} as const;
/** OFPVID_PRESENT: the VLAN_VID bit saying a tag is present. */
export const OFPVID_PRESENT = 0x1000;

/** Field properties: payload size in bytes and whether a mask is allowed (spec 7.2.3.7 table 12). */
export const OXM_INFO: ReadonlyMap<number, { bytes: number; maskable: boolean; name: string }> = new Map([
  [OXM.IN_PORT, { bytes: 4, maskable: false, name: 'in_port' }],
  [OXM.ETH_DST, { bytes: 6, maskable: true, name: 'eth_dst' }],
  [OXM.ETH_SRC, { bytes: 6, maskable: true, name: 'eth_src' }],
  [OXM.ETH_TYPE, { bytes: 2, maskable: false, name: 'eth_type' }],
  [OXM.VLAN_VID, { bytes: 2, maskable: true, name: 'vlan_vid' }],
  [OXM.VLAN_PCP, { bytes: 1, maskable: false, name: 'vlan_pcp' }],
  [OXM.IP_DSCP, { bytes: 1, maskable: false, name: 'ip_dscp' }],
  [OXM.IP_ECN, { bytes: 1, maskable: false, name: 'ip_ecn' }],
  [OXM.IP_PROTO, { bytes: 1, maskable: false, name: 'ip_proto' }],
  [OXM.IPV4_SRC, { bytes: 4, maskable: true, name: 'ipv4_src' }],
  [OXM.IPV4_DST, { bytes: 4, maskable: true, name: 'ipv4_dst' }],
  [OXM.TCP_SRC, { bytes: 2, maskable: false, name: 'tcp_src' }],
  [OXM.TCP_DST, { bytes: 2, maskable: false, name: 'tcp_dst' }],
  [OXM.UDP_SRC, { bytes: 2, maskable: false, name: 'udp_src' }],
  [OXM.UDP_DST, { bytes: 2, maskable: false, name: 'udp_dst' }],
  [OXM.ICMPV4_TYPE, { bytes: 1, maskable: false, name: 'icmpv4_type' }],
  [OXM.ICMPV4_CODE, { bytes: 1, maskable: false, name: 'icmpv4_code' }],
  [OXM.ARP_OP, { bytes: 2, maskable: false, name: 'arp_op' }],
  [OXM.ARP_SPA, { bytes: 4, maskable: true, name: 'arp_spa' }],
  [OXM.ARP_TPA, { bytes: 4, maskable: true, name: 'arp_tpa' }],
  [OXM.ARP_SHA, { bytes: 6, maskable: true, name: 'arp_sha' }],
  [OXM.ARP_THA, { bytes: 6, maskable: true, name: 'arp_tha' }],
]);
