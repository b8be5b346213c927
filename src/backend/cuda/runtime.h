// CUDA runtime plumbing: error checks that become Status, and RAII owners for device memory and
// streams. Nothing here is global: the device, stream and buffers are passed explicitly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace flint::cuda {

// Number of usable CUDA devices; 0 when there is no GPU or no driver (never an error).
int device_count();

// Name and memory of device `index`, for messages ("NVIDIA H100 80GB HBM3, 79.1 GiB").
Result<std::string> device_description(int index);

class Stream {
 public:
  static Result<Stream> create();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  void* handle() const { return handle_; }  // a cudaStream_t
  Status synchronize() const;

 private:
  Stream() = default;
  void* handle_ = nullptr;
};

class DeviceBuffer {
 public:
  static Result<DeviceBuffer> allocate(size_t bytes);
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  void* data() const { return data_; }
  size_t size() const { return size_; }

  // Copies host <-> device on `stream` (asynchronous with respect to the host for pinned
  // memory; synchronize the stream before reading the host side).
  Status upload(const void* host, size_t bytes, const Stream& stream);
  Status download(void* host, size_t bytes, const Stream& stream) const;

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace flint::cuda
