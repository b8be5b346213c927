#include "backend/cuda/runtime.h"

#include <cuda_runtime.h>

#include <utility>

#include "backend/cuda/check.h"

namespace flint::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error: no device is not a failure
    return 0;
  }
  return n;
}

Result<std::string> device_description(int index) {
  cudaDeviceProp prop{};
  FLINT_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, index));
  return fmt::format("{} (sm_{}{}), {:.1f} GiB", prop.name, prop.major, prop.minor,
                     static_cast<double>(prop.totalGlobalMem) / (1u << 30));
}

Result<Stream> Stream::create() {
  Stream s;
  cudaStream_t handle = nullptr;
  FLINT_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&handle, cudaStreamNonBlocking));
  s.handle_ = handle;
  return s;
}

Stream::Stream(Stream&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    if (handle_) cudaStreamDestroy(static_cast<cudaStream_t>(handle_));
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Stream::~Stream() {
  if (handle_) cudaStreamDestroy(static_cast<cudaStream_t>(handle_));
}

Status Stream::synchronize() const {
  FLINT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(static_cast<cudaStream_t>(handle_)));
  return Status::ok();
}

Result<DeviceBuffer> DeviceBuffer::allocate(size_t bytes) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    return error("cannot allocate {} bytes on the GPU: {}", bytes, cudaGetErrorString(e));
  }
  b.data_ = p;
  b.size_ = bytes;
  return b;
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (data_) cudaFree(data_);
}

Status DeviceBuffer::upload(const void* host, size_t bytes, const Stream& stream) {
  if (bytes > size_) return error("upload of {} bytes into a {}-byte GPU buffer", bytes, size_);
  FLINT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(data_, host, bytes, cudaMemcpyHostToDevice,
                                             static_cast<cudaStream_t>(stream.handle())));
  return Status::ok();
}

Status DeviceBuffer::download(void* host, size_t bytes, const Stream& stream) const {
  if (bytes > size_) return error("download of {} bytes from a {}-byte GPU buffer", bytes, size_);
  FLINT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host, data_, bytes, cudaMemcpyDeviceToHost,
                                             static_cast<cudaStream_t>(stream.handle())));
  return Status::ok();
}

}  // namespace flint::cuda
