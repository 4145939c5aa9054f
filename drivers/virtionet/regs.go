package virtionet

// PCI IDs (virtio 1.2, section 4.1.2): vendor 0x1af4; a network device is
// 0x1000 in its transitional form (legacy and modern interfaces) and 0x1041
// when it is modern only (QEMU: disable-legacy=on).
const (
	VendorVirtio       = 0x1af4
	DeviceTransitional = 0x1000
	DeviceModern       = 0x1041
)

// The PCI capability list (config space) and the virtio capabilities in it
// (virtio 1.2, section 4.1.4).
const (
	cfgStatus       = 0x06
	cfgStatusCaps   = 1 << 4 // the function has a capability list
	cfgCapPtr       = 0x34
	capVendor       = 0x09 // capability ID of vendor-specific capabilities
	capCommonCfg    = 1
	capNotifyCfg    = 2
	capISRCfg       = 3
	capDeviceCfg    = 4
	capPCICfg       = 5 // the window into the BARs through config space
	capOffBar       = 4 // struct virtio_pci_cap: bar (u8) at 4
	capOffOffset    = 8
	capOffLength    = 12
	capOffNotifyMul = 16 // virtio_pci_notify_cap: notify_off_multiplier
	capOffCfgData   = 16 // virtio_pci_cfg_cap: pci_cfg_data
)

// The common configuration structure (virtio 1.2, section 4.1.4.3).
const (
	commonDFSelect   = 0x00 // device_feature_select, u32
	commonDF         = 0x04 // device_feature, u32
	commonGFSelect   = 0x08 // driver_feature_select, u32
	commonGF         = 0x0c // driver_feature, u32
	commonNumQueues  = 0x12 // num_queues, u16
	commonStatus     = 0x14 // device_status, u8
	commonQSelect    = 0x16 // queue_select, u16
	commonQSize      = 0x18 // queue_size, u16
	commonQEnable    = 0x1c // queue_enable, u16
	commonQNotifyOff = 0x1e // queue_notify_off, u16
	commonQDescLo    = 0x20 // queue_desc, u64
	commonQDriverLo  = 0x28 // queue_driver (the available ring), u64
	commonQDeviceLo  = 0x30 // queue_device (the used ring), u64
	commonMinLen     = 0x38
)

// Device status bits (virtio 1.2, section 2.1).
const (
	statusAcknowledge = 1
	statusDriver      = 2
	statusDriverOK    = 4
	statusFeaturesOK  = 8
	statusNeedsReset  = 0x40
	statusFailed      = 0x80
)

// Feature bits.
const (
	featMAC         = 1 << 5  // VIRTIO_NET_F_MAC: the device has an address
	featStatus      = 1 << 16 // VIRTIO_NET_F_STATUS: link status in config
	featVersion1    = 1 << 32 // VIRTIO_F_VERSION_1: the modern interface
	featSpeedDuplex = 1 << 63 // VIRTIO_NET_F_SPEED_DUPLEX
)

// wantFeatures are the features the driver uses when the device offers
// them; VERSION_1 it requires. No checksum or segmentation offloads and no
// mergeable receive buffers: every frame is one buffer of one descriptor.
const wantFeatures = featVersion1 | featMAC | featStatus | featSpeedDuplex

// The device configuration of a network device (virtio 1.2, 5.1.4).
const (
	netCfgMAC    = 0  // mac, 6 bytes
	netCfgStatus = 6  // status, u16
	netCfgSpeed  = 12 // speed in Mbit/s, u32 (with SPEED_DUPLEX)
	netStatusUp  = 1  // VIRTIO_NET_S_LINK_UP
	netCfgMinLen = 8
)

// hdrLen is the size of struct virtio_net_hdr with VERSION_1 (num_buffers
// included), in front of every frame in both directions.
const hdrLen = 12

// Virtqueue numbers of the first queue pair.
const (
	rxQueue = 0
	txQueue = 1
)
