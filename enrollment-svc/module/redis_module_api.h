#pragma once

// The few parts of the Redis modules API (API version 1, as Redis 7.0 serves it) that
// uhc_module.cc uses, declared here because no Debian 12 package ships Redis's redismodule.h.
// Written from the API's documentation (https://redis.io/docs/reference/modules/modules-api-ref/):
// Redis hands a module its functions by name through RedisModule_GetApi, whose address is the
// first word of the context passed to RedisModule_OnLoad; RedisModule_SetModuleAttribs registers
// the module. Every declaration below matches a documented signature; the constants are the
// documented flag values.

#include <cstddef>

extern "C" {
struct RedisModuleCtx;
struct RedisModuleKey;
struct RedisModuleString;
struct RedisModuleCallReply;
typedef int (*RedisModuleCmdFunc)(RedisModuleCtx* ctx, RedisModuleString** argv, int argc);
}

namespace uhc::redis_module {

inline constexpr int kOk = 0;
inline constexpr int kErr = 1;
inline constexpr int kApiVersion1 = 1;
// OpenKey modes.
inline constexpr int kRead = 1 << 0;
inline constexpr int kWrite = 1 << 1;
// KeyType results.
inline constexpr int kKeyTypeEmpty = 0;
inline constexpr int kKeyTypeHash = 3;
// HashGet / HashSet flags.
inline constexpr int kHashNone = 0;
// CallReplyType results.
inline constexpr int kReplyError = 1;
// SetModuleOptions: keys are signalled as modified (WATCH, client tracking) only by
// SignalModifiedKey, not by closing a key opened for writing.
inline constexpr int kOptionNoImplicitSignalModified = 1 << 1;
// NotifyKeyspaceEvent type of hash events (notify-keyspace-events "h").
inline constexpr int kNotifyHash = 1 << 6;

struct Api {
  int (*GetApi)(const char* name, void* function_pointer);
  void (*SetModuleAttribs)(RedisModuleCtx* ctx, const char* name, int version, int api_version);
  int (*CreateCommand)(RedisModuleCtx* ctx, const char* name, RedisModuleCmdFunc function,
                       const char* flags, int first_key, int last_key, int key_step);
  RedisModuleKey* (*OpenKey)(RedisModuleCtx* ctx, RedisModuleString* name, int mode);
  void (*CloseKey)(RedisModuleKey* key);
  int (*KeyType)(RedisModuleKey* key);
  // (key, flags, field, RedisModuleString** value, ..., NULL): a missing field gives NULL.
  int (*HashGet)(RedisModuleKey* key, int flags, ...);
  // (key, flags, field, value, ..., NULL): the number of fields that existed and were changed.
  int (*HashSet)(RedisModuleKey* key, int flags, ...);
  RedisModuleString* (*CreateString)(RedisModuleCtx* ctx, const char* bytes, size_t length);
  void (*FreeString)(RedisModuleCtx* ctx, RedisModuleString* string);
  const char* (*StringPtrLen)(const RedisModuleString* string, size_t* length);
  int (*ReplyWithError)(RedisModuleCtx* ctx, const char* message);
  int (*ReplyWithStringBuffer)(RedisModuleCtx* ctx, const char* bytes, size_t length);
  int (*ReplyWithLongLong)(RedisModuleCtx* ctx, long long value);
  int (*WrongArity)(RedisModuleCtx* ctx);
  // (ctx, command, format, ...): format "sss" is three RedisModuleString* arguments.
  int (*Replicate)(RedisModuleCtx* ctx, const char* command, const char* format, ...);
  // (ctx, command, format, ...): format "sv!" is a key (RedisModuleString*) then an array of
  // arguments (RedisModuleString**, size_t), "!" replicating the command.
  RedisModuleCallReply* (*Call)(RedisModuleCtx* ctx, const char* command, const char* format, ...);
  int (*CallReplyType)(RedisModuleCallReply* reply);
  void (*FreeCallReply)(RedisModuleCallReply* reply);
  void (*SetModuleOptions)(RedisModuleCtx* ctx, int options);
  int (*SignalModifiedKey)(RedisModuleCtx* ctx, RedisModuleString* key_name);
  int (*NotifyKeyspaceEvent)(RedisModuleCtx* ctx, int type, const char* event,
                             RedisModuleString* key);
};

// Filled by Init, from RedisModule_OnLoad.
inline Api api;

// Looks every function up and registers the module; kErr if one is missing.
inline int Init(RedisModuleCtx* ctx, const char* name, int version) {
  api.GetApi = reinterpret_cast<int (*)(const char*, void*)>(reinterpret_cast<void**>(ctx)[0]);
  int missing = 0;
  const auto get = [&](const char* function, auto* pointer) {
    if (api.GetApi(function, reinterpret_cast<void*>(pointer)) != kOk) ++missing;
  };
  get("RedisModule_SetModuleAttribs", &api.SetModuleAttribs);
  get("RedisModule_CreateCommand", &api.CreateCommand);
  get("RedisModule_OpenKey", &api.OpenKey);
  get("RedisModule_CloseKey", &api.CloseKey);
  get("RedisModule_KeyType", &api.KeyType);
  get("RedisModule_HashGet", &api.HashGet);
  get("RedisModule_HashSet", &api.HashSet);
  get("RedisModule_CreateString", &api.CreateString);
  get("RedisModule_FreeString", &api.FreeString);
  get("RedisModule_StringPtrLen", &api.StringPtrLen);
  get("RedisModule_ReplyWithError", &api.ReplyWithError);
  get("RedisModule_ReplyWithStringBuffer", &api.ReplyWithStringBuffer);
  get("RedisModule_ReplyWithLongLong", &api.ReplyWithLongLong);
  get("RedisModule_WrongArity", &api.WrongArity);
  get("RedisModule_Replicate", &api.Replicate);
  get("RedisModule_Call", &api.Call);
  get("RedisModule_CallReplyType", &api.CallReplyType);
  get("RedisModule_FreeCallReply", &api.FreeCallReply);
  get("RedisModule_SetModuleOptions", &api.SetModuleOptions);
  get("RedisModule_SignalModifiedKey", &api.SignalModifiedKey);
  get("RedisModule_NotifyKeyspaceEvent", &api.NotifyKeyspaceEvent);
  if (missing > 0) return kErr;
  api.SetModuleAttribs(ctx, name, version, kApiVersion1);
  api.SetModuleOptions(ctx, kOptionNoImplicitSignalModified);
  return kOk;
}

}  // namespace uhc::redis_module
